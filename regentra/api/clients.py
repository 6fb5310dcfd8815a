from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from regentra.api.deps import AdminUser, CurrentOrg, CurrentUser, SessionDep
from regentra.api.responses import BODY, CONFLICT, FOUND, PARAMS, ROLE, errors
from regentra.api.schemas import Page
from regentra.audit.service import Actor
from regentra.clients import service
from regentra.clients.schemas import ClientCreate, ClientOut, ClientUpdate

router = APIRouter(prefix="/clients", tags=["clients"])


@router.post("", status_code=201, responses=errors(ROLE, BODY, CONFLICT))
def create_client(
    body: ClientCreate, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> ClientOut:
    client = service.create(session, org=org, data=body, actor=Actor.of(user))
    return ClientOut.model_validate(client)


@router.get("", responses=errors(PARAMS))
def list_clients(
    session: SessionDep,
    user: CurrentUser,
    limit: int | None = Query(default=None),
    cursor: str | None = None,
) -> Page[ClientOut]:
    page = service.list_clients(session, org_id=user.org_id, limit=limit, cursor=cursor)
    return Page[ClientOut].model_validate(page)


@router.get("/{client_id}", responses=errors(FOUND, PARAMS))
def get_client(client_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> ClientOut:
    client = service.clients.get(session, org_id=user.org_id, id=client_id)
    return ClientOut.model_validate(client)


@router.patch("/{client_id}", responses=errors(ROLE, FOUND, PARAMS, BODY, CONFLICT))
def update_client(
    client_id: uuid.UUID, body: ClientUpdate, session: SessionDep, user: AdminUser
) -> ClientOut:
    client = service.update(
        session, org_id=user.org_id, client_id=client_id, data=body, actor=Actor.of(user)
    )
    return ClientOut.model_validate(client)
