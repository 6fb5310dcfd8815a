"""Personal access tokens for the API: create (shown once, optionally expiring), list,
revoke; and the user's own signed-in sessions, each revocable. Every role."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from regentra.auth import my_sessions, tokens
from regentra.errors import Invalid
from regentra.http.deps import SessionDep
from regentra.web.auth import SESSION_COOKIE, Account, SignedIn
from regentra.web.forms import FormDep, text
from regentra.web.security import read_cookie
from regentra.web.templating import redirect, render

router = APIRouter(prefix="/tokens")

EXPIRY_CHOICES = [("", "Never"), ("7", "In 7 days"), ("30", "In 30 days"), ("90", "In 90 days")]
EXPIRY_CHOICES += [("365", "In a year")]


def _page(
    request: Request,
    session: Session,
    account: Account,
    *,
    new_token: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "title": "API tokens",
        "tokens": tokens.list_for(session, user=account.user),
        "new_token": new_token,
        "sessions": my_sessions.list_for(session, user=account.user),
        "current_session": my_sessions.current_id(session, read_cookie(request, SESSION_COOKIE)),
        "expiry_choices": EXPIRY_CHOICES,
    }
    return render(request, "tokens/list.html", context, status=status)


@router.get("")
def list_tokens(request: Request, session: SessionDep, account: SignedIn) -> Response:
    return _page(request, session, account)


@router.post("")
def create_token(
    request: Request, session: SessionDep, account: SignedIn, form: FormDep
) -> Response:
    days = text(form, "expires_in_days")
    if days not in {value for value, _ in EXPIRY_CHOICES}:
        raise Invalid("choose when the token expires from the list")
    _, raw = tokens.create_token(
        session,
        user=account.user,
        name=text(form, "name"),
        expires_in_days=int(days) if days else None,
    )
    # Rendered, not redirected: the token must not travel in a cookie or a URL.
    return _page(request, session, account, new_token=raw, status=201)


@router.post("/{token_id}/revoke")
def revoke_token(token_id: uuid.UUID, session: SessionDep, account: SignedIn) -> Response:
    token = tokens.revoke(session, user=account.user, token_id=token_id)
    return redirect("/tokens", success=f"Token {token.prefix}… revoked.")


@router.post("/sessions/{session_id}/revoke")
def revoke_session(session_id: uuid.UUID, session: SessionDep, account: SignedIn) -> Response:
    my_sessions.revoke(session, user=account.user, session_id=session_id)
    return redirect("/tokens", success="That session is signed out.")
