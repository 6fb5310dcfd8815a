from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query

from regentra.api import serialize
from regentra.api.deps import AdminUser, CurrentOrg, CurrentUser, SessionDep
from regentra.audit.service import Actor
from regentra.clients import service
from regentra.clients.schemas import ClientCreate, ClientUpdate

router = APIRouter(prefix="/clients", tags=["clients"])


@router.post("", status_code=201)
def create_client(
    body: ClientCreate, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> dict[str, Any]:
    return serialize.client(service.create(session, org=org, data=body, actor=Actor.of(user)))


@router.get("")
def list_clients(
    session: SessionDep,
    user: CurrentUser,
    limit: int | None = Query(default=None),
    cursor: str | None = None,
) -> dict[str, Any]:
    page = service.list_clients(session, org_id=user.org_id, limit=limit, cursor=cursor)
    return page.map(serialize.client)


@router.get("/{client_id}")
def get_client(client_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return serialize.client(service.clients.get(session, org_id=user.org_id, id=client_id))


@router.patch("/{client_id}")
def update_client(
    client_id: uuid.UUID, body: ClientUpdate, session: SessionDep, user: AdminUser
) -> dict[str, Any]:
    client = service.update(
        session, org_id=user.org_id, client_id=client_id, data=body, actor=Actor.of(user)
    )
    return serialize.client(client)
