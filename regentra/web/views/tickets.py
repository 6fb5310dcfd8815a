"""Tickets: list and create, a ticket's page with its time, and the log-time form."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import Select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor
from regentra.catalog import service as catalog
from regentra.clients.service import all_clients, clients
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.kit.time import today_in
from regentra.models import Org, Role, Ticket
from regentra.tickets import service
from regentra.tickets.schemas import TicketCreate, TicketUpdate
from regentra.time_entries import service as time_service
from regentra.time_entries.schemas import TimeEntryCreate
from regentra.web import listing, queries
from regentra.web.auth import Account, SignedIn
from regentra.web.forms import (
    FormDep,
    checkbox,
    failure,
    optional_id,
    parse_amount,
    parse_date,
    parse_duration,
    parse_id,
    text,
)
from regentra.web.templating import format_duration, redirect, render

router = APIRouter(prefix="/tickets")


_CLIENT_NAME = listing.client_name(Ticket)

SPEC = listing.ListSpec(
    path="/tickets",
    columns=(
        listing.SortColumn("title", "Title", listing.lower(Ticket.title)),
        listing.SortColumn("client", "Client", _CLIENT_NAME),
        listing.SortColumn("status", "Status", Ticket.status),
        listing.SortColumn("opened", "Opened", Ticket.created_at, first_dir="desc"),
    ),
    default_sort="opened",
    filters=(
        listing.Filter(
            "status", "Status", "choice", choices=("open", "closed", "all"), default="open"
        ),
        listing.Filter("client", "Client", "id"),
        listing.Filter("date_from", "Opened from", "date"),
        listing.Filter("date_to", "Opened to", "date"),
    ),
)


@router.get("")
def list_tickets(request: Request, session: SessionDep, account: SignedIn) -> Response:
    return _list_page(request, session, account)


def _filtered(view: listing.Listing, org: Org) -> Select[Any]:
    stmt = service.tickets.select(org.id)
    if (status := view.value("status")) in ("open", "closed"):
        stmt = stmt.where(Ticket.status == status)
    if client_id := view.value("client"):
        stmt = stmt.where(Ticket.client_id == client_id)
    since, until = listing.day_bounds(view, org.timezone)
    if since:
        stmt = stmt.where(Ticket.created_at >= since)
    if until:
        stmt = stmt.where(Ticket.created_at < until)
    return stmt


def _list_page(
    request: Request,
    session: Session,
    account: Account,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    code: int = 200,
) -> Response:
    org_id = account.org.id
    view = listing.parse(SPEC, request.query_params)
    found: list[Ticket] = []
    more: str | None = None
    count = 0
    if view.error is None:
        stmt = _filtered(view, account.org)
        try:
            result = listing.page(session, stmt, view, Ticket.id, limit=50)
            found, more = result.items, result.next_cursor
            count = listing.count(session, stmt)
        except RegentraError as exc:
            view.error = exc.message
    if view.error and code == 200:
        code = view.status
    context = {
        "title": "Tickets",
        "tickets": found,
        "next_cursor": more,
        "count": count,
        "clients": all_clients(session, org_id=org_id),
        "names": queries.names_for(session, org_id=org_id),
        "list": view,
        "filters": view.raw,
        "values": values or {},
        "error": error,
    }
    return render(request, "tickets/list.html", context, status=code)


@router.post("")
def create_ticket(
    request: Request, session: SessionDep, account: SignedIn, form: FormDep
) -> Response:
    try:
        client_id = parse_id(text(form, "client_id"), "client")
        data = TicketCreate(client_id=client_id, title=text(form, "title"))
        ticket = service.create(
            session, org_id=account.org.id, data=data, actor=Actor.of(account.user)
        )
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, code = failure(exc)
        values = {"client_id": text(form, "client_id"), "title": text(form, "title")}
        return _list_page(request, session, account, values=values, error=message, code=code)
    return redirect(f"/tickets/{ticket.id}", success="Ticket created.")


def _detail_page(
    request: Request,
    session: Session,
    account: Account,
    ticket: Ticket,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    code: int = 200,
) -> Response:
    org = account.org
    entries = time_service.list_entries(
        session, user=account.user, ticket_id=ticket.id, limit=200
    ).items
    client = clients.get(session, org_id=org.id, id=ticket.client_id)
    context = {
        "title": ticket.title,
        "ticket": ticket,
        "client": client,
        "rate_items": catalog.rate_items(session, org_id=org.id, currency=client.currency),
        "entries": entries,
        "names": queries.names_for(session, org_id=org.id, with_users=True),
        "can_set_rate": account.user.has_role(*time_service.RATE_SETTERS),
        "values": values or {"work_date": today_in(org.timezone).isoformat(), "billable": "on"},
        "error": error,
    }
    return render(request, "tickets/detail.html", context, status=code)


@router.get("/{ticket_id}")
def ticket_page(
    request: Request, ticket_id: uuid.UUID, session: SessionDep, account: SignedIn
) -> Response:
    ticket = service.get(session, org_id=account.org.id, ticket_id=ticket_id)
    return _detail_page(request, session, account, ticket)


@router.post("/{ticket_id}/status")
def set_status(
    request: Request, ticket_id: uuid.UUID, session: SessionDep, account: SignedIn, form: FormDep
) -> Response:
    ticket = service.get(session, org_id=account.org.id, ticket_id=ticket_id)
    try:
        data = TicketUpdate(status=text(form, "status"))
        service.update(
            session,
            org_id=account.org.id,
            ticket_id=ticket.id,
            data=data,
            actor=Actor.of(account.user),
        )
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, code = failure(exc)
        return _detail_page(request, session, account, ticket, error=message, code=code)
    word = "closed" if ticket.status == "closed" else "reopened"
    return redirect(f"/tickets/{ticket.id}", success=f"Ticket {word}.")


@router.post("/{ticket_id}/time")
def log_time(
    request: Request, ticket_id: uuid.UUID, session: SessionDep, account: SignedIn, form: FormDep
) -> Response:
    ticket = service.get(session, org_id=account.org.id, ticket_id=ticket_id)
    can_set_rate = account.user.has_role(Role.admin, Role.approver)
    try:
        minutes = parse_duration(text(form, "duration"))
        rate = None
        if can_set_rate:
            client = clients.get(session, org_id=account.org.id, id=ticket.client_id)
            rate = parse_amount(text(form, "hourly_rate"), client.currency, "Hourly rate")
        data = TimeEntryCreate(
            ticket_id=ticket.id,
            work_date=parse_date(text(form, "work_date"), "Work date"),
            minutes=minutes,
            description=text(form, "description"),
            billable=checkbox(form, "billable"),
            hourly_rate=rate,
            catalog_item_id=optional_id(text(form, "catalog_item_id"), "catalog item"),
        )
        entry = time_service.create(session, org=account.org, user=account.user, data=data)
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, code = failure(exc)
        values = {k: text(form, k) for k in ("work_date", "duration", "description")}
        values.update(hourly_rate=text(form, "hourly_rate"), billable=text(form, "billable"))
        values.update(catalog_item_id=text(form, "catalog_item_id"))
        return _detail_page(
            request, session, account, ticket, values=values, error=message, code=code
        )
    done = f"Logged {format_duration(entry.minutes)} on {entry.work_date.isoformat()} as a draft."
    return redirect(f"/tickets/{ticket.id}", success=done + " Submit it from My time when ready.")
