"""Users of the org (admins): who has which role, and adding people."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from regentra.audit.service import Actor
from regentra.errors import RegentraError
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
) -> Response:
    context = {
        "title": "Users",
        "users": service.list_users(session, org_id=account.org.id),
        "roles": ROLES,
        "values": values or {"role": Role.technician.value},
        "error": error,
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
