"""Search (GET /search?q=): the signed-in user's org's clients (by name), tickets (by title,
or a ticket's full id) and invoices (by number or client name), each with a link.

Only the org's own rows (every query starts from an org-scoped repository), and only what
the user may open: invoices are for approvers and admins (technicians get 403 on them), so a
technician's results leave invoices out and say so.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Select, or_
from sqlalchemy.orm import Session

from regentra.clients.service import clients
from regentra.http.deps import SessionDep
from regentra.invoices.service import invoices
from regentra.models import Client, Invoice, Role, Ticket
from regentra.tickets.service import tickets
from regentra.web import listing
from regentra.web.auth import SignedIn
from regentra.web.templating import render

router = APIRouter(prefix="/search")

MIN_LENGTH = 2
MAX_LENGTH = 100
LIMIT = 20  # results shown per kind; the count says when there are more


@dataclass
class Found:
    """One kind of result: what is shown, and how many matched in all."""

    items: list[Any]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


def _found(session: Session, stmt: Select[Any], *order: Any) -> Found:
    items = list(session.scalars(stmt.order_by(*order).limit(LIMIT)).all())
    total = len(items) if len(items) < LIMIT else listing.count(session, stmt)
    return Found(items, total)


def _client_ids(session: Session, org_id: uuid.UUID, q: str) -> Select[Any]:
    return (
        clients.select(org_id).where(listing.contains(Client.name, q)).with_only_columns(Client.id)
    )


@router.get("")
def search_page(request: Request, session: SessionDep, account: SignedIn, q: str = "") -> Response:
    org_id = account.org.id
    typed = " ".join(q.split())
    query = typed[:MAX_LENGTH]
    context: dict[str, Any] = {
        "title": f"Search: {query}" if query else "Search",
        "q": query,
        "min_length": MIN_LENGTH,
        "too_short": bool(query) and len(query) < MIN_LENGTH,
        "cut": len(typed) > MAX_LENGTH,
        "searched": len(query) >= MIN_LENGTH,
        "sees_invoices": account.user.has_role(Role.admin, Role.approver),
        "clients": Found([], 0),
        "tickets": Found([], 0),
        "invoices": Found([], 0),
        "names": {},
    }
    if not context["searched"]:
        return render(request, "search/index.html", context)
    context["clients"] = _found(
        session,
        clients.select(org_id).where(listing.contains(Client.name, query)),
        Client.name,
        Client.id,
    )
    ticket_match = listing.contains(Ticket.title, query)
    with contextlib.suppress(ValueError):  # a ticket's full id, as in its page's address
        ticket_match = or_(ticket_match, Ticket.id == uuid.UUID(query))
    context["tickets"] = _found(
        session,
        tickets.select(org_id).where(ticket_match),
        Ticket.created_at.desc(),
        Ticket.id.desc(),
    )
    if context["sees_invoices"]:
        by_client = _client_ids(session, org_id, query)
        context["invoices"] = _found(
            session,
            invoices.select(org_id).where(
                or_(listing.contains(Invoice.number, query), Invoice.client_id.in_(by_client))
            ),
            Invoice.created_at.desc(),
            Invoice.id.desc(),
        )
    wanted = {t.client_id for t in context["tickets"].items}
    wanted |= {i.client_id for i in context["invoices"].items}
    if wanted:
        stmt = clients.select(org_id).where(Client.id.in_(wanted))
        context["names"] = {c.id: c.name for c in session.scalars(stmt).all()}
    return render(request, "search/index.html", context)
