"""Read-only lookups pages need around the services: counts and display names.

Every query starts from an org-scoped repository, so another org's rows never show.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra.clients.service import clients
from regentra.models import Client, Ticket, TimeEntry
from regentra.orgs.service import list_users
from regentra.tickets.service import tickets
from regentra.time_entries.service import entries


def count_entries(
    session: Session, *, org_id: uuid.UUID, status: str, technician_id: uuid.UUID | None = None
) -> int:
    stmt = entries.select(org_id).where(TimeEntry.status == status)
    if technician_id is not None:
        stmt = stmt.where(TimeEntry.technician_id == technician_id)
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def count_open_tickets(session: Session, *, org_id: uuid.UUID) -> int:
    stmt = tickets.select(org_id).where(Ticket.status == "open")
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


@dataclass
class Names:
    """Display names for ids shown in tables."""

    clients: dict[uuid.UUID, Client] = field(default_factory=dict)
    tickets: dict[uuid.UUID, Ticket] = field(default_factory=dict)
    users: dict[uuid.UUID, str] = field(default_factory=dict)

    def client(self, client_id: uuid.UUID) -> str:
        found = self.clients.get(client_id)
        return found.name if found else "(unknown client)"

    def ticket(self, ticket_id: uuid.UUID) -> str:
        found = self.tickets.get(ticket_id)
        return found.title if found else "(unknown ticket)"

    def user(self, user_id: uuid.UUID | None) -> str:
        return self.users.get(user_id, "") if user_id else ""


def names_for(
    session: Session,
    *,
    org_id: uuid.UUID,
    ticket_ids: Iterable[uuid.UUID] = (),
    with_users: bool = False,
) -> Names:
    names = Names()
    names.clients = {c.id: c for c in session.scalars(clients.select(org_id)).all()}
    wanted = set(ticket_ids)
    if wanted:
        stmt = tickets.select(org_id).where(Ticket.id.in_(wanted))
        names.tickets = {t.id: t for t in session.scalars(stmt).all()}
    if with_users:
        names.users = {u.id: u.display_name for u in list_users(session, org_id=org_id)}
    return names
