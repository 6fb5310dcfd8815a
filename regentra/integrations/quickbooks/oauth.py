"""Intuit OAuth 2 through `intuit-oauth`: the one place that builds an `AuthClient`.

The app's keys and environment come from the server's settings (`REGENTRA_QBO_*`); the
redirect URI is derived from `REGENTRA_BASE_URL`. `AuthClient` is a `requests.Session` that
sends with no timeout, so ours sets one on every request (the discovery document, the token
endpoint and revocation alike).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from regentra.config import Settings, get_settings
from regentra.integrations.quickbooks.errors import (
    QuickBooksNotConfigured,
    QuickBooksUnavailable,
    ReconnectNeeded,
)

CALLBACK_PATH = "/integrations/quickbooks/callback"
SCOPES = [Scopes.ACCOUNTING]
# Intuit's authorize page (the discovery documents' `authorization_endpoint`, sandbox and
# production alike: developer.intuit.com/.well-known/openid-sandbox-configuration).
INTUIT_AUTHORIZE_ORIGIN = "https://appcenter.intuit.com"
INTUIT_API_BASE = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
    "production": "https://quickbooks.api.intuit.com",
}


def missing_settings(settings: Settings | None = None) -> list[str]:
    """The `REGENTRA_QBO_*` settings an operator must still set (empty: ready)."""
    settings = settings or get_settings()
    return [
        name
        for name, value in (
            ("REGENTRA_QBO_CLIENT_ID", settings.qbo_client_id),
            ("REGENTRA_QBO_CLIENT_SECRET", settings.qbo_client_secret),
            ("REGENTRA_QBO_ENVIRONMENT", settings.qbo_environment),
        )
        if not value.strip()
    ]


def redirect_uri(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return settings.base_url.rstrip("/") + CALLBACK_PATH


INTUIT_APP = {
    "production": "https://app.qbo.intuit.com",
    "sandbox": "https://app.sandbox.qbo.intuit.com",
}


def intuit_environment(settings: Settings | None = None) -> str | None:
    """ "production" or "sandbox" for Intuit's own environments; None when
    `REGENTRA_QBO_ENVIRONMENT` is a discovery URL (a local sandbox)."""
    settings = settings or get_settings()
    env = settings.qbo_environment.strip().lower()
    if env in ("prod", "production"):
        return "production"
    if env in ("sand", "sandbox"):
        return "sandbox"
    return None


def local_origin(settings: Settings | None = None) -> str:
    """The origin of the discovery URL (a local sandbox serves OAuth, the API and pages)."""
    settings = settings or get_settings()
    parts = urlsplit(settings.qbo_environment.strip())
    return f"{parts.scheme}://{parts.netloc}"


def api_base(settings: Settings | None = None) -> str:
    """The accounting API's base URL (without `/v3`)."""
    settings = settings or get_settings()
    if settings.qbo_api_base.strip():
        return settings.qbo_api_base.strip().rstrip("/")
    intuit = intuit_environment(settings)
    return INTUIT_API_BASE[intuit] if intuit else local_origin(settings)


def authorize_origin(settings: Settings | None = None) -> str:
    """The origin of the authorize page Connect sends the browser to (for the page's
    `form-action`): Intuit's, or that of the discovery URL (a sandbox serves both)."""
    settings = settings or get_settings()
    return INTUIT_AUTHORIZE_ORIGIN if intuit_environment(settings) else local_origin(settings)


class _TimedAuthClient(AuthClient):  # type: ignore[misc]
    """`AuthClient` with a timeout on every request it sends."""

    timeout: float = 30.0

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response: requests.Response = super().request(method, url, *args, **kwargs)
        return response


def auth_client(**tokens: Any) -> AuthClient:
    """An `AuthClient` for the server's app (reads the discovery document: one request).
    `tokens` are AuthClient's own keywords (`access_token`, `refresh_token`, `realm_id`)."""
    settings = get_settings()
    if missing_settings(settings):
        raise QuickBooksNotConfigured(
            "QuickBooks is not set up on this server: the operator must set "
            + ", ".join(missing_settings(settings))
        )
    _TimedAuthClient.timeout = settings.qbo_timeout_seconds
    try:
        return _TimedAuthClient(
            settings.qbo_client_id.strip(),
            settings.qbo_client_secret.strip(),
            redirect_uri(settings),
            settings.qbo_environment.strip(),
            **tokens,
        )
    except (requests.RequestException, AuthClientError, ValueError) as exc:
        raise QuickBooksUnavailable(
            f"Intuit's sign-in service could not be reached ({type(exc).__name__})"
        ) from None


def is_invalid_grant(exc: AuthClientError) -> bool:
    """Intuit's answer to a revoked, expired or superseded refresh token (or a used code):
    HTTP 400 `invalid_grant`. Retrying does not help; reconnecting does."""
    if exc.status_code != 400:
        return False
    try:
        body = exc.response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "invalid_grant"


def translate(exc: BaseException, *, doing: str) -> Exception:
    """What an intuit-oauth failure means: for good (`ReconnectNeeded`), or try later."""
    if isinstance(exc, AuthClientError):
        if is_invalid_grant(exc):
            return ReconnectNeeded(
                f"QuickBooks refused the saved authorization while {doing} (invalid_grant: "
                "revoked or expired): connect QuickBooks again"
            )
        if exc.status_code in (400, 401, 403):
            return ReconnectNeeded(
                f"QuickBooks refused this server's app keys while {doing} "
                f"(HTTP {exc.status_code}): check REGENTRA_QBO_CLIENT_ID and _SECRET, then "
                "connect QuickBooks again"
            )
        return QuickBooksUnavailable(
            f"Intuit's sign-in service failed while {doing} (HTTP {exc.status_code})"
        )
    return QuickBooksUnavailable(
        f"Intuit's sign-in service could not be reached while {doing} ({type(exc).__name__})"
    )
