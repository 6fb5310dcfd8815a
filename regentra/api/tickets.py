from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter

from regentra.api.deps import CurrentUser, SessionDep
from regentra.api.responses import BODY, FOUND, PARAMS, errors
from regentra.api.schemas import Page
from regentra.audit.service import Actor
from regentra.tickets import service
from regentra.tickets.schemas import TicketCreate, TicketOut, TicketUpdate

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.post("", status_code=201, responses=errors(BODY))
def create_ticket(body: TicketCreate, session: SessionDep, user: CurrentUser) -> TicketOut:
    ticket = service.create(session, org_id=user.org_id, data=body, actor=Actor.of(user))
    return TicketOut.model_validate(ticket)


@router.get("", responses=errors(PARAMS))
def list_tickets(
    session: SessionDep,
    user: CurrentUser,
    client_id: uuid.UUID | None = None,
    status: Literal["open", "closed"] | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[TicketOut]:
    page = service.list_tickets(
        session, org_id=user.org_id, client_id=client_id, status=status, limit=limit, cursor=cursor
    )
    return Page[TicketOut].model_validate(page)


@router.get("/{ticket_id}", responses=errors(FOUND, PARAMS))
def get_ticket(ticket_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> TicketOut:
    return TicketOut.model_validate(service.get(session, org_id=user.org_id, ticket_id=ticket_id))


@router.patch("/{ticket_id}", responses=errors(FOUND, PARAMS, BODY))
def update_ticket(
    ticket_id: uuid.UUID, body: TicketUpdate, session: SessionDep, user: CurrentUser
) -> TicketOut:
    ticket = service.update(
        session, org_id=user.org_id, ticket_id=ticket_id, data=body, actor=Actor.of(user)
    )
    return TicketOut.model_validate(ticket)
