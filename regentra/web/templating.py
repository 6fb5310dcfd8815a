"""Jinja2 rendering for pages: one environment, the layout's context, redirects with flash."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader
from sqlalchemy.exc import SQLAlchemyError

from regentra.db import session_scope
from regentra.kit.money import amount_for, format_money, to_decimal
from regentra.kit.time import as_utc
from regentra.web.auth import Viewer, account_for, login_url
from regentra.web.security import (
    SESSION_COOKIE,
    Flash,
    clear_flash,
    csrf_token,
    read_cookie,
    read_flash,
    set_csrf_cookie_if_new,
    set_flash,
)


def format_duration(minutes: int) -> str:
    """Minutes as hours:minutes, the way people type them: 75 → "1:15", 45 → "0:45",
    120 → "2:00", 2250 → "37:30" (a week's total). `forms.parse_duration` reads it back."""
    hours, rest = divmod(int(minutes), 60)
    return f"{hours}:{rest:02d}"


def format_local(value: datetime | None, tz: str = "UTC") -> str:
    if value is None:
        return ""
    return as_utc(value).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def major_units(amount_minor: int | None, currency: str) -> str:
    """Minor units as a typed amount for a form field ("150.00"); empty when unset."""
    return "" if amount_minor is None else str(to_decimal(amount_minor, currency))


# Pages use only our own files: no inline script or style, no third-party origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def csp(form_targets: Sequence[str] = ()) -> str:
    """The pages' Content-Security-Policy; `form_targets`: origins a form of the page may
    end up at (a POST answered by a redirect there, e.g. to Stripe Checkout: browsers apply
    `form-action` to the redirect too)."""
    if not form_targets:
        return CSP
    return CSP.replace("form-action 'self'", "form-action 'self' " + " ".join(form_targets))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("regentra.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = format_money
    env.filters["duration"] = format_duration
    env.filters["localtime"] = format_local
    env.filters["major"] = major_units
    env.globals["amount_for"] = amount_for
    return env


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
    *,
    form_targets: Sequence[str] = (),
) -> HTMLResponse:
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    flash = read_flash(request)
    ctx: dict[str, Any] = {
        "request": request,
        "viewer": viewer,
        "path": request.url.path,
        "csrf_token": csrf_token(request),
        "flash": flash,
        "error": None,
        **(context or {}),
    }
    html = environment().get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = csp(form_targets)
    set_csrf_cookie_if_new(request, response)
    if flash is not None:
        clear_flash(response)
    return response


def redirect(
    url: str,
    *,
    success: str | None = None,
    error: str | None = None,
    warning: str | None = None,
) -> Response:
    """A 303 to `url` with a flash message: `warning` is for work done in part (what was
    done and what was not, and why), not an error."""
    response = RedirectResponse(url, status_code=303)
    if error:
        set_flash(response, Flash("error", error))
    elif warning:
        set_flash(response, Flash("warning", warning))
    elif success:
        set_flash(response, Flash("success", success))
    return response


_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Check your input",
    429: "Too many attempts",
    503: "Unavailable",
}


def _look_up_viewer(request: Request) -> None:
    """Who is signed in, for an error page no view dependency ran for (an unknown path, a
    refused CSRF token): so the page keeps the menu. Not for 5xx (the database may be the
    trouble); a failed look-up only leaves the menu out."""
    if getattr(request.state, "viewer", None) is not None:
        return
    if read_cookie(request, SESSION_COOKIE) is None:
        return
    try:
        with session_scope() as session:
            account_for(request, session)
    except SQLAlchemyError:
        return


def render_error(request: Request, status: int, message: str) -> Response:
    """The page for an error outside /api/: sign-in redirect for 401, else the layout."""
    if status == 401:
        return RedirectResponse(login_url(request), status_code=303)
    if status < 500:
        _look_up_viewer(request)
    title = _TITLES.get(status, "Something went wrong" if status >= 500 else "Error")
    context = {
        "title": title,
        "status": status,
        "message": message,
        "has_session": read_cookie(request, SESSION_COOKIE) is not None,
    }
    return render(request, "error.html", context, status=status)
