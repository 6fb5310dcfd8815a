"""Users of the org (admins): who has which role, adding people, changing roles and
deactivating or reactivating them (through the users service, as the API and CLI do)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from regentra.audit.service import Actor
from regentra.auth import password_resets
from regentra.errors import NotFound, RegentraError
from regentra.http.deps import SessionDep
from regentra.models import Role
from regentra.orgs import service
from regentra.web.auth import Account, AdminPage
from regentra.web.forms import FormDep, text
from regentra.web.templating import redirect, render

router = APIRouter(prefix="/users")

ROLES = [r.value for r in Role]


def _page(
    request: Request,
    session: Session,
    account: Account,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    code: int = 200,
    reset: dict[str, str] | None = None,
) -> Response:
    context = {
        "title": "Users",
        "users": service.list_users(session, org_id=account.org.id),
        "roles": ROLES,
        "values": values or {"role": Role.technician.value},
        "error": error,
        "reset": reset,
    }
    return render(request, "users/list.html", context, status=code)


@router.get("")
def users(request: Request, session: SessionDep, account: AdminPage) -> Response:
    return _page(request, session, account)


@router.post("")
def add_user(request: Request, session: SessionDep, account: AdminPage, form: FormDep) -> Response:
    password = form.get("password")
    try:
        user = service.add_user(
            session,
            org_id=account.org.id,
            email=text(form, "email"),
            password=password if isinstance(password, str) else "",
            role=text(form, "role"),
            name=text(form, "name"),
            actor=Actor.of(account.user),
        )
    except RegentraError as exc:
        session.rollback()
        values = {k: text(form, k) for k in ("email", "name", "role")}  # never the password
        return _page(request, session, account, values=values, error=exc.message, code=exc.status)
    return redirect("/users", success=f"{user.email} can now sign in as {user.role}.")


def _act(session: Session, done: Callable[[], str]) -> Response:
    try:
        message = done()
    except NotFound:
        raise  # another org's user, or none: the 404 page
    except RegentraError as exc:
        session.rollback()
        return redirect("/users", error=exc.message)
    return redirect("/users", success=message)


@router.post("/{user_id}/role")
def set_role(
    user_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    def done() -> str:
        user = service.set_role(
            session,
            org_id=account.org.id,
            user_id=user_id,
            role=text(form, "role"),
            actor=Actor.of(account.user),
        )
        return f"{user.email} is now {user.role}."

    return _act(session, done)


@router.post("/{user_id}/deactivate")
def deactivate(user_id: uuid.UUID, session: SessionDep, account: AdminPage) -> Response:
    def done() -> str:
        user = service.deactivate_user(
            session, org_id=account.org.id, user_id=user_id, actor=Actor.of(account.user)
        )
        return f"{user.email} is deactivated: their sessions ended and API tokens are revoked."

    return _act(session, done)


@router.post("/{user_id}/reactivate")
def reactivate(user_id: uuid.UUID, session: SessionDep, account: AdminPage) -> Response:
    def done() -> str:
        user = service.reactivate_user(
            session, org_id=account.org.id, user_id=user_id, actor=Actor.of(account.user)
        )
        return f"{user.email} can sign in again."

    return _act(session, done)


@router.post("/{user_id}/password-reset")
def reset_password(
    request: Request, user_id: uuid.UUID, session: SessionDep, account: AdminPage
) -> Response:
    try:
        link, expires_at = password_resets.issue(
            session, org_id=account.org.id, user_id=user_id, actor=Actor.of(account.user)
        )
    except NotFound:
        raise
    except RegentraError as exc:
        session.rollback()
        return redirect("/users", error=exc.message)
    user = service.users.get(session, org_id=account.org.id, id=user_id)
    reset = {"email": user.email, "link": link, "expires_at": expires_at.isoformat()}
    # Rendered, not redirected: the link must not travel in a cookie or a URL.
    return _page(request, session, account, reset=reset, code=201)
