"""Shared dependencies: one session per request (committed before the response is sent),
the authenticated user from a personal access token, and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from regentra.auth import tokens
from regentra.db import session_scope
from regentra.errors import Forbidden, Unauthenticated
from regentra.models import Org, Role, User


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_current_user(request: Request, session: SessionDep) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthenticated(
            "authentication required: send 'Authorization: Bearer <token>' "
            "(create a token with `regentra token create`)"
        )
    user = tokens.authenticate(session, raw.strip())
    if user is None:
        raise Unauthenticated("the access token is invalid or has been revoked")
    request.state.user_id = str(user.id)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_org(user: CurrentUser, session: SessionDep) -> Org:
    org = session.get(Org, user.org_id)
    if org is None:  # the user row cascades with its org; this cannot happen
        raise Unauthenticated("your organization no longer exists")
    return org


CurrentOrg = Annotated[Org, Depends(get_current_org)]


def require_role(*roles: Role) -> Callable[[User], User]:
    names = ", ".join(r.value for r in roles)

    def check(user: CurrentUser) -> User:
        if not user.has_role(*roles):
            raise Forbidden(f"this action needs one of these roles: {names}")
        return user

    return check


AdminUser = Annotated[User, Depends(require_role(Role.admin))]
ApproverUser = Annotated[User, Depends(require_role(Role.admin, Role.approver))]
