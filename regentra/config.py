"""Settings from the environment (prefix REGENTRA_), with safe development defaults."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal

import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = structlog.get_logger(__name__)

VAR_DIR = Path(os.environ.get("REGENTRA_VAR_DIR", "var"))


class ConfigError(Exception):
    """Raised when the server cannot start with the configuration it was given."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGENTRA_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = Field(default_factory=lambda: f"sqlite:///{VAR_DIR / 'regentra.db'}")
    base_url: str = "http://127.0.0.1:8000"
    encryption_keys: str = ""
    session_secret: str = ""
    queue_url: str = ""
    log_level: str = "INFO"
    session_max_age_seconds: int = 60 * 60 * 12
    login_max_failures: int = 10
    login_window_seconds: int = 15 * 60

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _dev_secret_file(name: str, make: Callable[[], str]) -> str:
    path = VAR_DIR / name
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    log.warning(
        "generated development secret",
        file=str(path),
        hint="set REGENTRA_ENV=production and provide real secrets before going live",
    )
    return value


def _new_keyring_spec() -> str:
    return "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()


def _new_session_secret() -> str:
    return secrets.token_urlsafe(48)


def resolve(settings: Settings) -> Settings:
    """Fill in development secrets, or refuse to run in production without them."""
    missing = [
        name
        for name, value in (
            ("REGENTRA_ENCRYPTION_KEYS", settings.encryption_keys),
            ("REGENTRA_SESSION_SECRET", settings.session_secret),
        )
        if not value.strip()
    ]
    if settings.env == "production":
        if missing:
            raise ConfigError(
                "Refusing to start in production without "
                + " and ".join(missing)
                + ". Generate a keyring entry with `regentra keys generate` and a session secret"
                " with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        if len(settings.session_secret) < 32:
            raise ConfigError("REGENTRA_SESSION_SECRET must be at least 32 characters.")
        return settings
    updates: dict[str, str] = {}
    if not settings.encryption_keys.strip():
        updates["encryption_keys"] = _dev_secret_file("encryption_keys", _new_keyring_spec)
    if not settings.session_secret.strip():
        updates["session_secret"] = _dev_secret_file("session_secret", _new_session_secret)
    return settings.model_copy(update=updates) if updates else settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return resolve(Settings())
