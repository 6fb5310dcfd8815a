"""The service catalog: everyone reads it; admins add manual items, edit them and sync."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query

from regentra.api import serialize
from regentra.api.deps import AdminUser, CurrentUser, SessionDep
from regentra.audit.service import Actor
from regentra.catalog import service
from regentra.catalog.schemas import CatalogItemCreate, CatalogItemUpdate

router = APIRouter(prefix="/catalog", tags=["catalog"])


@router.get("")
def list_items(
    session: SessionDep,
    user: CurrentUser,
    q: str | None = Query(default=None, max_length=200),
    active: bool | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    page = service.list_items(
        session, org_id=user.org_id, q=q, active=active, limit=limit, cursor=cursor
    )
    return page.map(serialize.catalog_item)


@router.post("", status_code=201)
def create_item(body: CatalogItemCreate, session: SessionDep, user: AdminUser) -> dict[str, Any]:
    item = service.create_manual(session, org_id=user.org_id, data=body, actor=Actor.of(user))
    return serialize.catalog_item(item)


@router.post("/sync", status_code=202)
def start_sync(session: SessionDep, user: AdminUser) -> dict[str, Any]:
    sync = service.request_sync(session, org_id=user.org_id, actor=Actor.of(user))
    return serialize.catalog_sync(sync)


@router.get("/sync/{sync_id}")
def get_sync(sync_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return serialize.catalog_sync(service.get_sync(session, org_id=user.org_id, sync_id=sync_id))


@router.patch("/{item_id}")
def update_item(
    item_id: uuid.UUID, body: CatalogItemUpdate, session: SessionDep, user: AdminUser
) -> dict[str, Any]:
    item = service.update(
        session, org_id=user.org_id, item_id=item_id, data=body, actor=Actor.of(user)
    )
    return serialize.catalog_item(item)
