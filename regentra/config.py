"""Settings from the environment (prefix REGENTRA_), with safe development defaults."""

from __future__ import annotations

import base64
import ipaddress
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
    # Run the periodic jobs (reconciliation, overdue, sweeps) in this process's consumer.
    # Off only where something else must own the clock (the test servers).
    periodic_jobs: bool = True
    log_level: str = "INFO"
    session_max_age_seconds: int = 60 * 60 * 12
    # Failed sign-ins allowed per window: per (account, client address), and per account
    # across all addresses. Then 429 until the window (from its first failure) passes.
    login_max_failures: int = Field(default=10, ge=1)
    login_max_failures_per_account: int = Field(default=50, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    # The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed:
    # comma-separated addresses or networks (`10.0.0.5,10.1.0.0/16`), `*` for any. Empty (the
    # default): none, so the client address is the connection's, whatever the headers say.
    trusted_proxies: str = ""
    # /metrics answers only `Authorization: Bearer <this>`; unset, /metrics is 404.
    metrics_token: str = ""
    # /docs and /openapi.json (off: both 404, e.g. in production).
    api_docs: bool = True
    # Stripe (integrations/stripe/client.py). The base URL points at a local sandbox in
    # tests and the demo; in production it stays Stripe's own.
    stripe_api_base: str = "https://api.stripe.com"
    stripe_timeout_seconds: float = 30.0
    stripe_max_network_retries: int = 2
    # Stored webhook events keep their payload this many days; a daily job then empties it
    # and keeps the row (ids, type, outcome).
    stripe_event_payload_days: int = Field(default=90, ge=1)
    # Requests per second per org, shared by every process, by the key's mode: Stripe allows
    # 25 in test mode and 100 in live mode. 0 turns the throttle off.
    stripe_max_rps: float = Field(default=20.0, ge=0)
    stripe_max_rps_live: float = Field(default=80.0, ge=0)
    # Requests per second per org to one endpoint (`POST /v1/invoices/{id}/add_lines`), in
    # either mode: Stripe allows each endpoint 25. 0 turns this throttle off (and so does an
    # account rate of 0).
    stripe_max_rps_per_endpoint: float = Field(default=20.0, ge=0)
    # 429s: retried this many times with exponential back-off (base, cap in seconds).
    stripe_rate_limit_retries: int = Field(default=6, ge=0)
    stripe_backoff_base_seconds: float = Field(default=0.5, ge=0)
    stripe_backoff_max_seconds: float = Field(default=8.0, ge=0)
    # QuickBooks Online (integrations/quickbooks). The app's keys from Intuit's developer
    # portal; the environment is `sandbox`, `production` or a discovery document's URL (the
    # local QuickBooks sandbox's in tests and the demo). Unset: the card says what to set.
    qbo_client_id: str = ""
    qbo_client_secret: str = ""
    qbo_environment: str = "sandbox"
    # The accounting API's base; empty: Intuit's for `sandbox`/`production`, else the
    # discovery URL's origin (the local sandbox serves both).
    qbo_api_base: str = ""
    qbo_timeout_seconds: float = Field(default=30.0, gt=0)
    # Drafts an invoice run's send job sends at once (the org's Stripe pacing bounds the rate;
    # a few in flight keep it busy while each send waits on Stripe's answers).
    invoice_run_send_workers: int = Field(default=4, ge=1, le=16)
    # Requests per second per company (realm), shared by every process: Intuit allows 10
    # (and 500 a minute). 0 turns the throttle off.
    qbo_max_rps: float = Field(default=8.0, ge=0)
    # 429s and 5xx: retried in the call this many times with exponential back-off.
    qbo_retries: int = Field(default=4, ge=0)
    qbo_backoff_base_seconds: float = Field(default=0.5, ge=0)
    qbo_backoff_max_seconds: float = Field(default=8.0, ge=0)

    # Platform billing (integrations/platform): each org's Regentra subscription, through the
    # platform's own Stripe account. The key and the webhook signing secret come from the
    # environment, or from the file `…_FILE` names (one or the other). No key: billing is off
    # and every org is active (self-hosted installs).
    platform_stripe_secret_key: str = ""
    platform_stripe_secret_key_file: str = ""
    platform_stripe_webhook_secret: str = ""
    platform_stripe_webhook_secret_file: str = ""
    # Days an org without a subscription can do everything (from its creation, or from when
    # billing was switched on for orgs older than that).
    platform_trial_days: int = Field(default=14, ge=0)
    # Monthly prices in minor units of `platform_currency` (`regentra platform setup` makes
    # them; a changed amount makes a new price at the next run, for new subscriptions).
    platform_currency: str = "usd"
    platform_starter_monthly: int = Field(default=4900, ge=0)
    platform_pro_monthly: int = Field(default=14900, ge=0)
    platform_starter_seat_monthly: int = Field(default=1900, ge=0)
    platform_pro_seat_monthly: int = Field(default=2900, ge=0)
    platform_compliance_tenant_monthly: int = Field(default=1500, ge=0)
    # Quantity updates per subscription per hour, shared by every worker: Stripe allows 200.
    # A burst of seat or compliance changes waits for the next slot and then carries the
    # final counts in one update.
    platform_quantity_updates_per_hour: float = Field(default=180.0, gt=0)

    @property
    def platform_billing(self) -> bool:
        """Billing each org for Regentra is on (a platform key is configured)."""
        return bool(self.platform_stripe_secret_key)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [item.strip() for item in self.trusted_proxies.split(",") if item.strip()]

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


def _check_trusted_proxies(settings: Settings) -> None:
    for item in settings.trusted_proxy_list:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(
                f"REGENTRA_TRUSTED_PROXIES: {item!r} is not an IP address or network "
                "(e.g. 10.0.0.5 or 10.0.0.0/8), nor `*`."
            ) from None


_SECRET_FILES = {
    "platform_stripe_secret_key": "platform_stripe_secret_key_file",
    "platform_stripe_webhook_secret": "platform_stripe_webhook_secret_file",
}


def _read_secret_files(settings: Settings) -> Settings:
    """`REGENTRA_X_FILE=/path` sets X to the file's content (stripped), as container secrets
    are mounted; X and X_FILE together are refused, and so is a file that cannot be read."""
    updates: dict[str, str] = {}
    for name, file_field in _SECRET_FILES.items():
        path = getattr(settings, file_field).strip()
        if not path:
            continue
        env = f"REGENTRA_{name.upper()}"
        if getattr(settings, name):
            raise ConfigError(f"Set {env} or {env}_FILE, not both.")
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{env}_FILE: cannot read {path}: {exc.strerror}") from None
        if not value:
            raise ConfigError(f"{env}_FILE: {path} is empty.")
        updates[name] = value
    return settings.model_copy(update=updates) if updates else settings


def resolve(settings: Settings) -> Settings:
    """Fill in development secrets, or refuse to run in production without them."""
    _check_trusted_proxies(settings)
    settings = _read_secret_files(settings)
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
