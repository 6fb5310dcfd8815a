"""API dependencies: the authenticated user from a personal access token, their org, and
role checks. The session per request (`SessionDep`) is shared with the pages and lives in
`regentra.http.deps`; it is re-exported here for the API's route modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from regentra.auth import tokens
from regentra.errors import Forbidden, Unauthenticated
from regentra.http.deps import SessionDep
from regentra.models import Org, Role, User

__all__ = [
    "AdminUser",
    "ApproverUser",
    "CurrentOrg",
    "CurrentUser",
    "SessionDep",
    "get_current_org",
    "get_current_user",
    "require_role",
]


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
