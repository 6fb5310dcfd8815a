from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from regentra.api.deps import AdminUser, SessionDep
from regentra.api.responses import BODY, CONFLICT, ROLE, errors
from regentra.api.schemas import Page
from regentra.audit.service import Actor
from regentra.orgs import service
from regentra.orgs.schemas import UserOut

router = APIRouter(prefix="/users", tags=["users"])


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)
    role: Literal["admin", "approver", "technician"]
    name: str = Field(default="", max_length=200)


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
