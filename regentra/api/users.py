from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from regentra.api import serialize
from regentra.api.deps import AdminUser, SessionDep
from regentra.audit.service import Actor
from regentra.orgs import service

router = APIRouter(prefix="/users", tags=["users"])


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)
    role: Literal["admin", "approver", "technician"]
    name: str = Field(default="", max_length=200)


@router.get("")
def list_users(session: SessionDep, user: AdminUser) -> dict[str, Any]:
    items = service.list_users(session, org_id=user.org_id)
    return {"items": [serialize.user(u) for u in items], "next_cursor": None}


@router.post("", status_code=201)
def create_user(body: UserCreate, session: SessionDep, user: AdminUser) -> dict[str, Any]:
    created = service.add_user(
        session,
        org_id=user.org_id,
        email=body.email,
        password=body.password,
        role=body.role,
        name=body.name,
        actor=Actor.of(user),
    )
    return serialize.user(created)
