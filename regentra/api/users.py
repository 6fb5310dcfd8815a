from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from regentra.api.deps import AdminUser, SessionDep
from regentra.api.responses import BODY, CONFLICT, FOUND, PARAMS, ROLE, errors
from regentra.api.schemas import Page
from regentra.audit.service import Actor
from regentra.auth import password_resets
from regentra.orgs import service
from regentra.orgs.schemas import UserOut, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)
    role: Literal["admin", "approver", "technician"]
    name: str = Field(default="", max_length=200)


class PasswordResetOut(BaseModel):
    """Shown once: give the link to the user privately. It works once, until `expires_at`."""

    link: str
    expires_at: datetime


@router.get("", responses=errors(ROLE))
def list_users(session: SessionDep, user: AdminUser) -> Page[UserOut]:
    items = service.list_users(session, org_id=user.org_id)
    return Page[UserOut](items=[UserOut.model_validate(u) for u in items], next_cursor=None)


@router.post("", status_code=201, responses=errors(ROLE, BODY, CONFLICT))
def create_user(body: UserCreate, session: SessionDep, user: AdminUser) -> UserOut:
    created = service.add_user(
        session,
        org_id=user.org_id,
        email=body.email,
        password=body.password,
        role=body.role,
        name=body.name,
        actor=Actor.of(user),
    )
    return UserOut.model_validate(created)


@router.patch("/{user_id}", responses=errors(ROLE, FOUND, PARAMS, BODY, CONFLICT))
def update_user(
    user_id: uuid.UUID, body: UserUpdate, session: SessionDep, user: AdminUser
) -> UserOut:
    """Rename a user or change their role (the last active admin cannot be demoted: 409)."""
    updated = service.update_user(
        session, org_id=user.org_id, user_id=user_id, data=body, actor=Actor.of(user)
    )
    return UserOut.model_validate(updated)


@router.post("/{user_id}/deactivate", responses=errors(ROLE, FOUND, PARAMS, CONFLICT))
def deactivate_user(user_id: uuid.UUID, session: SessionDep, user: AdminUser) -> UserOut:
    """Deactivate a user: their sessions end and their API tokens are revoked at once."""
    done = service.deactivate_user(
        session, org_id=user.org_id, user_id=user_id, actor=Actor.of(user)
    )
    return UserOut.model_validate(done)


@router.post("/{user_id}/reactivate", responses=errors(ROLE, FOUND, PARAMS))
def reactivate_user(user_id: uuid.UUID, session: SessionDep, user: AdminUser) -> UserOut:
    """Let a deactivated user sign in again (their old tokens stay revoked)."""
    done = service.reactivate_user(
        session, org_id=user.org_id, user_id=user_id, actor=Actor.of(user)
    )
    return UserOut.model_validate(done)


@router.post(
    "/{user_id}/password-reset", status_code=201, responses=errors(ROLE, FOUND, PARAMS, CONFLICT)
)
def reset_password(
    user_id: uuid.UUID, response: Response, session: SessionDep, user: AdminUser
) -> PasswordResetOut:
    """A single-use link for the user to set a new password (valid 30 minutes; any earlier
    unused link stops working). Using it ends all of the user's sessions."""
    link, expires_at = password_resets.issue(
        session, org_id=user.org_id, user_id=user_id, actor=Actor.of(user)
    )
    response.headers["Cache-Control"] = "no-store"
    return PasswordResetOut(link=link, expires_at=expires_at)
