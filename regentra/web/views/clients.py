"""Clients: everyone sees the list; admins create and edit."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import Select, or_
from sqlalchemy.orm import Session

from regentra.audit.service import Actor
from regentra.clients import service
from regentra.clients.schemas import ClientCreate, ClientUpdate
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.models import Client
from regentra.web import listing
from regentra.web.agreement_section import client_section
from regentra.web.auth import Account, AdminPage, SignedIn
from regentra.web.forms import FormDep, checkbox, failure, parse_amount, text
from regentra.web.templating import major_units, redirect, render

router = APIRouter(prefix="/clients")


def _fields(form: FormDep, default_currency: str) -> dict[str, Any]:
    currency = (text(form, "currency") or default_currency).upper()
    return {
        "name": text(form, "name"),
        "billing_email": text(form, "billing_email"),
        "currency": currency,
        "hourly_rate": parse_amount(text(form, "hourly_rate"), currency, "Hourly rate"),
        "compliance_enabled": checkbox(form, "compliance_enabled"),
    }


SPEC = listing.ListSpec(
    path="/clients",
    columns=(
        listing.SortColumn("name", "Name", listing.lower(Client.name)),
        listing.SortColumn("email", "Billing email", listing.lower(Client.billing_email)),
        listing.SortColumn("currency", "Currency", Client.currency),
        listing.SortColumn("rate", "Hourly rate", Client.hourly_rate, "desc", nullable=True),
        listing.SortColumn("created", "Added", Client.created_at, first_dir="desc"),
    ),
    default_sort="created",
    filters=(
        listing.Filter("q", "Name or email", "text"),
        listing.Filter("currency", "Currency", "text", max_length=3),
    ),
)


def _filtered(view: listing.Listing, org_id: uuid.UUID) -> Select[Any]:
    stmt = service.clients.select(org_id)
    if q := view.value("q"):
        stmt = stmt.where(
            or_(listing.contains(Client.name, q), listing.contains(Client.billing_email, q))
        )
    if currency := view.value("currency"):
        stmt = stmt.where(Client.currency == currency.upper())
    return stmt


def _list_page(
    request: Request,
    session: Session,
    account: Account,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    org_id = account.org.id
    view = listing.parse(SPEC, request.query_params)
    found: list[Client] = []
    more: str | None = None
    count = 0
    if view.error is None:
        stmt = _filtered(view, org_id)
        try:
            result = listing.page(session, stmt, view, Client.id, limit=50)
            found, more = result.items, result.next_cursor
            count = listing.count(session, stmt)
        except RegentraError as exc:
            view.error = exc.message
    if view.error and status == 200:
        status = view.status
    context = {
        "title": "Clients",
        "clients": found,
        "next_cursor": more,
        "count": count,
        "currencies": sorted({c.currency for c in service.all_clients(session, org_id=org_id)}),
        "list": view,
        "filters": view.raw,
        "org": account.org,
        "values": values or {"currency": account.org.default_currency},
        "error": error,
    }
    return render(request, "clients/list.html", context, status=status)


@router.get("")
def list_clients(request: Request, session: SessionDep, account: SignedIn) -> Response:
    return _list_page(request, session, account)


@router.post("")
def create_client(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    try:
        data = ClientCreate(**_fields(form, account.org.default_currency))
        client = service.create(session, org=account.org, data=data, actor=Actor.of(account.user))
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = failure(exc)
        return _list_page(
            request, session, account, values=_typed(form), error=message, status=status
        )
    return redirect("/clients", success=f"Client {client.name} created.")


_TYPED = ("name", "billing_email", "currency", "hourly_rate", "compliance_enabled")


def _typed(form: FormDep) -> dict[str, str]:
    return {name: text(form, name) for name in _TYPED}


def _values(client: Client) -> dict[str, str]:
    return {
        "name": client.name,
        "billing_email": client.billing_email,
        "currency": client.currency,
        "hourly_rate": major_units(client.hourly_rate, client.currency),
        "compliance_enabled": "on" if client.compliance_enabled else "",
    }


def client_page(
    request: Request,
    session: Session,
    account: Account,
    client: Client,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    agreement_values: dict[str, str] | None = None,
    agreement_error: str | None = None,
    status: int = 200,
) -> Response:
    """The client's page: its details (a form) and its agreements, with the New agreement
    form (`agreement_values`/`agreement_error`: that form typed and refused)."""
    context = {
        "title": f"Edit {client.name}",
        "client": client,
        "values": values if values is not None else _values(client),
        "error": error,
        "agreement_values": agreement_values or {"period": "monthly", "billing": "advance"},
        "agreement_error": agreement_error,
        **client_section(session, org_id=account.org.id, client=client),
    }
    return render(request, "clients/edit.html", context, status=status)


@router.get("/{client_id}")
def edit_client_page(
    request: Request, client_id: uuid.UUID, session: SessionDep, account: AdminPage
) -> Response:
    client = service.clients.get(session, org_id=account.org.id, id=client_id)
    return client_page(request, session, account, client)


@router.post("/{client_id}")
def edit_client(
    request: Request, client_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    client = service.clients.get(session, org_id=account.org.id, id=client_id)
    try:
        data = ClientUpdate(**_fields(form, client.currency))
        service.update(
            session,
            org_id=account.org.id,
            client_id=client_id,
            data=data,
            actor=Actor.of(account.user),
        )
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = failure(exc)
        return client_page(
            request, session, account, client, values=_typed(form), error=message, status=status
        )
    return redirect("/clients", success=f"Client {client.name} saved.")
