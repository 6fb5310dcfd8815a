"""Tickets: the work time is logged against."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.clients.errors import UnknownClient
from regentra.clients.service import clients
from regentra.errors import Invalid, NotFound
from regentra.kit.pagination import Page, paginate
from regentra.models import Ticket
from regentra.orgs.repository import OrgScopedRepository
from regentra.tickets.schemas import TicketCreate, TicketUpdate

tickets = OrgScopedRepository(Ticket, "ticket")


def create(session: Session, *, org_id: uuid.UUID, data: TicketCreate, actor: Actor) -> Ticket:
    title = data.title.strip()
    if not title:
        raise Invalid("title must not be blank")
    client = clients.find(session, org_id=org_id, id=data.client_id)
    if client is None:
        raise UnknownClient("client_id does not match any client")
    ticket = Ticket(org_id=org_id, client_id=client.id, title=title)
    session.add(ticket)
    session.flush()
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="ticket.created",
        subject_type="ticket",
        subject_id=ticket.id,
        details={"title": title, "client_id": str(client.id)},
    )
    return ticket


def update(
    session: Session, *, org_id: uuid.UUID, ticket_id: uuid.UUID, data: TicketUpdate, actor: Actor
) -> Ticket:
    ticket = tickets.get(session, org_id=org_id, id=ticket_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    if "title" in changes:
        if changes["title"] is None or not changes["title"].strip():
            raise Invalid("title must not be blank")
        changes["title"] = changes["title"].strip()
    if "status" in changes and changes["status"] is None:
        raise Invalid("status must be open or closed")
    applied = {k: v for k, v in changes.items() if getattr(ticket, k) != v}
    for key, value in applied.items():
        setattr(ticket, key, value)
    if applied:
        action = "ticket.updated"
        if "status" in applied:
            action = "ticket.closed" if applied["status"] == "closed" else "ticket.reopened"
        record(
            session,
            org_id=org_id,
            actor=actor,
            action=action,
            subject_type="ticket",
            subject_id=ticket.id,
            details={"changed": sorted(applied)},
        )
    return ticket


def list_tickets(
    session: Session,
    *,
    org_id: uuid.UUID,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[Ticket]:
    stmt = tickets.select(org_id)
    if client_id is not None:
        stmt = stmt.where(Ticket.client_id == client_id)
    if status is not None:
        if status not in ("open", "closed"):
            raise Invalid("status must be open or closed")
        stmt = stmt.where(Ticket.status == status)
    return paginate(session, stmt, Ticket.id, limit=limit, cursor=cursor)


def get(session: Session, *, org_id: uuid.UUID, ticket_id: uuid.UUID) -> Ticket:
    ticket = tickets.find(session, org_id=org_id, id=ticket_id)
    if ticket is None:
        raise NotFound("ticket not found")
    return ticket
