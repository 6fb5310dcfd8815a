"""The service catalog: everyone reads it; admins add manual items, edit them and sync."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from regentra.api.deps import AdminUser, CurrentUser, SessionDep
from regentra.api.responses import BODY, CONFLICT, FOUND, NOT_CONNECTED, PARAMS, ROLE, errors
from regentra.api.schemas import Page
from regentra.audit.service import Actor
from regentra.catalog import service
from regentra.catalog.schemas import (
    CatalogItemCreate,
    CatalogItemOut,
    CatalogItemUpdate,
    CatalogSyncOut,
)

router = APIRouter(prefix="/catalog", tags=["catalog"])


@router.get("", responses=errors(PARAMS))
def list_items(
    session: SessionDep,
    user: CurrentUser,
    q: str | None = Query(default=None, max_length=200),
    active: bool | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[CatalogItemOut]:
    page = service.list_items(
        session, org_id=user.org_id, q=q, active=active, limit=limit, cursor=cursor
    )
    return Page[CatalogItemOut].model_validate(page)


@router.post("", status_code=201, responses=errors(ROLE, BODY))
def create_item(body: CatalogItemCreate, session: SessionDep, user: AdminUser) -> CatalogItemOut:
    item = service.create_manual(session, org_id=user.org_id, data=body, actor=Actor.of(user))
    return CatalogItemOut.model_validate(item)


@router.post("/sync", status_code=202, responses=errors(ROLE, CONFLICT, NOT_CONNECTED))
def start_sync(session: SessionDep, user: AdminUser) -> CatalogSyncOut:
    sync = service.request_sync(session, org_id=user.org_id, actor=Actor.of(user))
    return CatalogSyncOut.model_validate(sync)


@router.get("/sync/{sync_id}", responses=errors(FOUND, PARAMS))
def get_sync(sync_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> CatalogSyncOut:
    sync = service.get_sync(session, org_id=user.org_id, sync_id=sync_id)
    return CatalogSyncOut.model_validate(sync)


@router.patch("/{item_id}", responses=errors(ROLE, FOUND, PARAMS, BODY, CONFLICT))
def update_item(
    item_id: uuid.UUID, body: CatalogItemUpdate, session: SessionDep, user: AdminUser
) -> CatalogItemOut:
    item = service.update(
        session, org_id=user.org_id, item_id=item_id, data=body, actor=Actor.of(user)
    )
    return CatalogItemOut.model_validate(item)
