"""Cookies for pages (names, flags), the CSRF token and one-shot flash messages.

Cookies: HttpOnly, SameSite=Lax, Path=/; behind an https base URL also Secure, and named
with the `__Host-` prefix, so the browser refuses one set by a sibling subdomain or over
plain http (no cookie tossing).

CSRF: a random `regentra_csrf` cookie; forms carry `csrf_token` = HMAC-SHA256(session_secret,
cookie value + the session cookie as sent) in hex. The token is bound to the session: one
minted for another session (or before sign-in) is refused, and the cookie is replaced at
sign-in and sign-out. A cross-site page can neither read the cookies nor compute the HMAC.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from regentra.config import get_settings
from regentra.errors import Forbidden

SESSION_COOKIE = "regentra_session"
CSRF_COOKIE = "regentra_csrf"
CSRF_FIELD = "csrf_token"
FLASH_COOKIE = "regentra_flash"
FLASH_MAX_AGE = 60
CSRF_EXPIRED = "Your form expired; reload the page and try again."
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfRejected(Forbidden):
    """An unsafe request without a valid CSRF token (expired or missing): reload and retry."""

    code = "csrf"

    def __init__(self) -> None:
        super().__init__(CSRF_EXPIRED)


def _sign(value: str) -> str:
    key = get_settings().session_secret.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def cookie_name(name: str) -> str:
    """The name a cookie is sent under: `__Host-` + name behind an https base URL."""
    return f"__Host-{name}" if get_settings().secure_cookies else name


def read_cookie(request: Request, name: str) -> str | None:
    return request.cookies.get(cookie_name(name))


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None) -> None:
    """Every cookie we set: HttpOnly, SameSite=Lax, Path=/, Secure and `__Host-` behind
    https."""
    response.set_cookie(
        cookie_name(name),
        value,
        max_age=max_age,
        path="/",
        secure=get_settings().secure_cookies,
        httponly=True,
        samesite="lax",
    )


def delete_cookie(response: Response, name: str) -> None:
    response.delete_cookie(
        cookie_name(name),
        path="/",
        secure=get_settings().secure_cookies,
        httponly=True,
        samesite="lax",
    )


def _valid_raw(value: str | None) -> bool:
    return bool(value) and 20 <= len(value or "") <= 100


def csrf_cookie_value(request: Request) -> str:
    """The CSRF cookie for this request, minting one (once per request) if missing."""
    minted: str | None = getattr(request.state, "csrf_minted", None)
    if minted:
        return minted
    current = read_cookie(request, CSRF_COOKIE)
    if current is not None and _valid_raw(current):
        return current
    request.state.csrf_minted = secrets.token_urlsafe(32)
    return str(request.state.csrf_minted)


def _bound(cookie: str, request: Request) -> str:
    """The token for this CSRF cookie and the session cookie the request carries."""
    session = read_cookie(request, SESSION_COOKIE) or ""
    return _sign(f"csrf:{cookie}:{session}")


def csrf_token(request: Request) -> str:
    return _bound(csrf_cookie_value(request), request)


def rotate_csrf(request: Request, response: Response) -> None:
    """A new CSRF cookie (sign-in, sign-out): tokens minted before no longer work."""
    request.state.csrf_minted = secrets.token_urlsafe(32)
    set_cookie(response, CSRF_COOKIE, request.state.csrf_minted, max_age=None)


def set_csrf_cookie_if_new(request: Request, response: Response) -> None:
    minted = getattr(request.state, "csrf_minted", None)
    if minted:
        set_cookie(response, CSRF_COOKIE, minted, max_age=None)


async def verify_csrf(request: Request) -> None:
    """Router-wide guard: every unsafe request to a page must carry a valid token."""
    if request.method not in UNSAFE_METHODS:
        return
    cookie = read_cookie(request, CSRF_COOKIE)
    form = await request.form()  # cached on the request: views read the same form
    sent = form.get(CSRF_FIELD)
    if not cookie or not _valid_raw(cookie) or not isinstance(sent, str):
        raise CsrfRejected()
    if not hmac.compare_digest(sent.encode(), _bound(cookie, request).encode()):
        raise CsrfRejected()


@dataclass(frozen=True)
class Flash:
    kind: str  # "success", "warning" (done in part: says what was not) or "error"
    text: str


def set_flash(response: Response, flash: Flash) -> None:
    payload = base64.urlsafe_b64encode(
        json.dumps({"k": flash.kind, "t": flash.text[:1500]}).encode()
    ).decode()
    set_cookie(
        response, FLASH_COOKIE, f"{payload}.{_sign('flash:' + payload)}", max_age=FLASH_MAX_AGE
    )


def read_flash(request: Request) -> Flash | None:
    raw = read_cookie(request, FLASH_COOKIE)
    if not raw or "." not in raw:
        return None
    payload, _, signature = raw.rpartition(".")
    if not hmac.compare_digest(signature.encode(), _sign("flash:" + payload).encode()):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or data.get("k") not in ("success", "warning", "error"):
        return None
    return Flash(kind=str(data["k"]), text=str(data.get("t", "")))


def clear_flash(response: Response) -> None:
    delete_cookie(response, FLASH_COOKIE)
