"""Who is looking at the page: the session cookie, the signed-in account and role checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from regentra.auth import sessions
from regentra.billing import service as billing
from regentra.config import get_settings
from regentra.errors import Forbidden, Unauthenticated
from regentra.http.deps import SessionDep
from regentra.models import Org, Role, User
from regentra.web.security import SESSION_COOKIE as SESSION_COOKIE
from regentra.web.security import delete_cookie, read_cookie, set_cookie


@dataclass(frozen=True)
class Viewer:
    """A plain snapshot of the signed-in user for templates (safe after the session ends)."""

    name: str
    email: str
    role: str
    org_name: str
    org_timezone: str
    # Admins only, when the org's Regentra subscription needs them (past due, trial over,
    # canceled): the banner on every page, linking to Settings → Billing.
    billing_alert: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin.value

    @property
    def is_approver(self) -> bool:
        return self.role in (Role.admin.value, Role.approver.value)


@dataclass
class Account:
    user: User
    org: Org
    viewer: Viewer


BILLING_ALERTS = {
    "past_due": "Stripe could not charge the card for your Regentra subscription: pay the "
    "open invoice and update your payment method to keep it.",
    "trial_over": "Your Regentra trial has ended: choose a plan to send invoices again.",
    "canceled": "Your Regentra subscription is canceled: subscribe again to send invoices.",
}


def _billing_alert(session: Session, org: Org) -> str | None:
    if not get_settings().platform_billing:
        return None
    return BILLING_ALERTS.get(billing.state(session, org).status)


def account_for(request: Request, session: SessionDep) -> Account | None:
    user = sessions.user_for(session, read_cookie(request, SESSION_COOKIE))
    if user is None:
        return None
    org = session.get(Org, user.org_id)
    if org is None:
        return None
    alert = _billing_alert(session, org) if user.role == Role.admin.value else None
    viewer = Viewer(user.display_name, user.email, user.role, org.name, org.timezone, alert)
    request.state.viewer = viewer
    request.state.user_id = str(user.id)
    return Account(user=user, org=org, viewer=viewer)


def signed_in(request: Request, session: SessionDep) -> Account:
    account = account_for(request, session)
    if account is None:
        raise Unauthenticated("Sign in to continue.")
    return account


def require_approver(account: Annotated[Account, Depends(signed_in)]) -> Account:
    if not account.user.has_role(Role.admin, Role.approver):
        raise Forbidden("This page is for approvers and admins.")
    return account


def require_admin(account: Annotated[Account, Depends(signed_in)]) -> Account:
    if not account.user.has_role(Role.admin):
        raise Forbidden("This page is for admins.")
    return account


SignedIn = Annotated[Account, Depends(signed_in)]
ApproverPage = Annotated[Account, Depends(require_approver)]
AdminPage = Annotated[Account, Depends(require_admin)]
MaybeSignedIn = Annotated[Account | None, Depends(account_for)]


def set_session_cookie(response: Response, raw: str) -> None:
    set_cookie(response, SESSION_COOKIE, raw, max_age=get_settings().session_max_age_seconds)


def clear_session_cookie(response: Response) -> None:
    delete_cookie(response, SESSION_COOKIE)


def safe_next(value: str | None) -> str:
    """Only local paths: "/x" yes; "//evil", "/\\evil", "https://evil" no."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 32 for ch in value) or urlsplit(value).netloc:
        return "/"
    return value


def login_url(request: Request) -> str:
    """Where to send a visitor who must sign in, remembering the page they wanted."""
    target = request.url.path
    if request.method == "GET":
        if request.url.query:
            target += "?" + request.url.query
    else:
        referer = urlsplit(request.headers.get("referer", ""))
        same_host = referer.netloc == request.url.netloc
        target = (referer.path or "/") if same_host else "/"
    target = safe_next(target)
    if target in ("/", "/login"):
        return "/login"
    return "/login?" + urlencode({"next": target})
