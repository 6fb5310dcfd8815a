from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter

from regentra.api import serialize
from regentra.api.deps import CurrentUser, SessionDep
from regentra.audit.service import Actor
from regentra.tickets import service
from regentra.tickets.schemas import TicketCreate, TicketUpdate

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.post("", status_code=201)
def create_ticket(body: TicketCreate, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    ticket = service.create(session, org_id=user.org_id, data=body, actor=Actor.of(user))
    return serialize.ticket(ticket)


@router.get("")
def list_tickets(
    session: SessionDep,
    user: CurrentUser,
    client_id: uuid.UUID | None = None,
    status: Literal["open", "closed"] | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    page = service.list_tickets(
        session, org_id=user.org_id, client_id=client_id, status=status, limit=limit, cursor=cursor
    )
    return page.map(serialize.ticket)


@router.get("/{ticket_id}")
def get_ticket(ticket_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return serialize.ticket(service.get(session, org_id=user.org_id, ticket_id=ticket_id))


@router.patch("/{ticket_id}")
def update_ticket(
    ticket_id: uuid.UUID, body: TicketUpdate, session: SessionDep, user: CurrentUser
) -> dict[str, Any]:
    ticket = service.update(
        session, org_id=user.org_id, ticket_id=ticket_id, data=body, actor=Actor.of(user)
    )
    return serialize.ticket(ticket)
