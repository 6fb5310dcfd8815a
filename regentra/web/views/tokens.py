"""Personal access tokens for the API: create (shown once), list, revoke. Every role."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from regentra.auth import tokens
from regentra.http.deps import SessionDep
from regentra.web.auth import Account, SignedIn
from regentra.web.forms import FormDep, text
from regentra.web.templating import redirect, render

router = APIRouter(prefix="/tokens")


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
    }
    return render(request, "tokens/list.html", context, status=status)


@router.get("")
def list_tokens(request: Request, session: SessionDep, account: SignedIn) -> Response:
    return _page(request, session, account)


@router.post("")
def create_token(
    request: Request, session: SessionDep, account: SignedIn, form: FormDep
) -> Response:
    _, raw = tokens.create_token(session, user=account.user, name=text(form, "name"))
    # Rendered, not redirected: the token must not travel in a cookie or a URL.
    return _page(request, session, account, new_token=raw, status=201)


@router.post("/{token_id}/revoke")
def revoke_token(token_id: uuid.UUID, session: SessionDep, account: SignedIn) -> Response:
    token = tokens.revoke(session, user=account.user, token_id=token_id)
    return redirect("/tokens", success=f"Token {token.prefix}… revoked.")
