"""Sign in and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from regentra.auth import service, sessions
from regentra.http.deps import SessionDep
from regentra.web.auth import (
    MaybeSignedIn,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)
from regentra.web.forms import FormDep, text
from regentra.web.security import SESSION_COOKIE, read_cookie, rotate_csrf
from regentra.web.templating import redirect, render

router = APIRouter()


@router.get("/login")
def login_page(request: Request, account: MaybeSignedIn, next: str = "/") -> Response:
    if account is not None:
        return redirect(safe_next(next))
    context = {"title": "Sign in", "next": safe_next(next), "email": ""}
    return render(request, "auth/login.html", context)


@router.post("/login")
def login(request: Request, session: SessionDep, form: FormDep) -> Response:
    email = text(form, "email")
    target = safe_next(text(form, "next"))
    # From X-Forwarded-For only behind REGENTRA_TRUSTED_PROXIES (uvicorn, `regentra serve`).
    ip = request.client.host if request.client else "unknown"
    password = form.get("password")
    result = service.login(
        session, email=email, password=password if isinstance(password, str) else "", ip=ip
    )
    if result.user is None:
        # The attempt was counted in a transaction of its own (auth/throttle.py).
        context = {"title": "Sign in", "next": target, "email": email, "error": result.error}
        return render(request, "auth/login.html", context, status=result.status)
    sessions.end(session, read_cookie(request, SESSION_COOKIE))
    raw = sessions.start(session, user=result.user)
    response = redirect(target)
    set_session_cookie(response, raw)
    rotate_csrf(request, response)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    sessions.end(session, read_cookie(request, SESSION_COOKIE))
    response = redirect("/login", success="You have signed out.")
    clear_session_cookie(response)
    rotate_csrf(request, response)
    return response
