"""Setting a new password through a reset link an admin made (no sign-in needed: the link's
token is the credential, once)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from regentra.auth import password_resets
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.web.auth import clear_session_cookie
from regentra.web.forms import FormDep, text
from regentra.web.templating import redirect, render

router = APIRouter(prefix=password_resets.RESET_PATH)


def _page(
    request: Request, session: Session, token: str, *, error: str | None = None, code: int = 200
) -> Response:
    user = password_resets.user_for(session, token)
    context = {
        "title": "Set a new password",
        "token": token if user else "",
        "email": user.email if user else "",
        "error": error if user else password_resets.INVALID_LINK,
    }
    return render(request, "auth/password_reset.html", context, status=code if user else 400)


@router.get("")
def reset_page(request: Request, session: SessionDep, token: str = "") -> Response:
    return _page(request, session, token)


@router.post("")
def reset(request: Request, session: SessionDep, form: FormDep) -> Response:
    token = text(form, "token")
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    if password != form.get("confirm"):
        return _page(request, session, token, error="The two passwords differ.", code=422)
    try:
        password_resets.complete(session, raw=token, password=password)
    except RegentraError as exc:
        session.rollback()
        return _page(request, session, token, error=exc.message, code=exc.status)
    response = redirect("/login", success="Your password is set. Sign in with it.")
    clear_session_cookie(response)
    return response
