"""PSA → Catalog: everyone browses and searches; admins sync from Stripe, add items and edit
the manual ones (Stripe's change in Stripe)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from regentra.audit.service import Actor
from regentra.catalog import service
from regentra.catalog.lines import fixed_line_problem
from regentra.catalog.schemas import CatalogItemCreate, CatalogItemUpdate
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.models import CatalogItem, SyncStatus
from regentra.web.auth import Account, AdminPage, SignedIn
from regentra.web.forms import FormDep, checkbox, failure, parse_amount, text
from regentra.web.templating import major_units, redirect, render

router = APIRouter(prefix="/catalog")

ACTIVE_FILTERS = {"all": None, "active": True, "inactive": False}
INTERVALS = ("day", "week", "month", "year")
REFRESH_SECONDS = 2


def _list_page(
    request: Request,
    session: Session,
    account: Account,
    *,
    q: str = "",
    active: str = "active",
    cursor: str | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    org_id = account.org.id
    active = active if active in ACTIVE_FILTERS else "active"
    page = service.list_items(
        session, org_id=org_id, q=q, active=ACTIVE_FILTERS[active], limit=100, cursor=cursor
    )
    sync = service.latest_sync(session, org_id=org_id)
    syncing = sync is not None and sync.status in (
        SyncStatus.queued.value,
        SyncStatus.running.value,
    )
    context = {
        "title": "Catalog",
        "items": page.items,
        # Why an item cannot be a fixed invoice line (tiered, metered, ...), by item id.
        "not_fixed": {
            item.id: problem
            for item in page.items
            if (
                problem := fixed_line_problem(
                    pricing=item.pricing,
                    unit_amount=item.unit_amount,
                    unit_amount_decimal=item.unit_amount_decimal,
                )
            )
        },
        "next_cursor": page.next_cursor,
        "filters": {"q": q, "active": active},
        "sync": sync,
        "syncing": syncing and not service.is_stale(sync) if sync else False,
        "refresh": REFRESH_SECONDS,
        "last_sync_at": service.last_success_at(session, org_id=org_id),
        "connected": service.stripe_connected(session, org_id=org_id),
        "intervals": INTERVALS,
        "values": values or {"currency": account.org.default_currency, "active": "on"},
        "error": error,
    }
    return render(request, "catalog/list.html", context, status=status)


@router.get("")
def catalog_page(
    request: Request,
    session: SessionDep,
    account: SignedIn,
    q: str = "",
    active: str = "active",
    cursor: str | None = None,
) -> Response:
    return _list_page(request, session, account, q=q[:200], active=active, cursor=cursor)


_TYPED = ("name", "description", "unit_amount", "currency", "recurring_interval", "active")


def _fields(form: FormDep, default_currency: str) -> dict[str, Any]:
    currency = (text(form, "currency") or default_currency).upper()
    return {
        "name": text(form, "name"),
        "description": text(form, "description") or None,
        "unit_amount": parse_amount(text(form, "unit_amount"), currency, "Price"),
        "currency": currency,
        "recurring_interval": text(form, "recurring_interval") or None,
        "active": checkbox(form, "active"),
    }


@router.post("")
def create_item(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    try:
        data = CatalogItemCreate(**_fields(form, account.org.default_currency))
        item = service.create_manual(
            session, org_id=account.org.id, data=data, actor=Actor.of(account.user)
        )
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = failure(exc)
        values = {name: text(form, name) for name in _TYPED}
        return _list_page(request, session, account, values=values, error=message, status=status)
    return redirect("/catalog", success=f"Catalog item {item.name} added.")


@router.post("/sync")
def sync_from_stripe(request: Request, session: SessionDep, account: AdminPage) -> Response:
    try:
        service.request_sync(session, org_id=account.org.id, actor=Actor.of(account.user))
    except RegentraError as exc:
        session.rollback()
        return redirect("/catalog", error=exc.message[:1].upper() + exc.message[1:] + ".")
    return redirect("/catalog", success="Sync from Stripe started.")


@router.post("/{item_id}/active")
def set_active(
    request: Request, item_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    active = checkbox(form, "active")
    try:
        item = service.update(
            session,
            org_id=account.org.id,
            item_id=item_id,
            data=CatalogItemUpdate(active=active),
            actor=Actor.of(account.user),
        )
    except RegentraError as exc:
        session.rollback()
        return redirect("/catalog", error=exc.message[:1].upper() + exc.message[1:] + ".")
    word = "activated" if active else "deactivated"
    return redirect("/catalog", success=f"Catalog item {item.name} {word}.")


_EDITABLE = ("name", "description", "unit_amount", "currency")


def _manual_item(session: Session, account: Account, item_id: uuid.UUID) -> CatalogItem:
    item = service.items.get(session, org_id=account.org.id, id=item_id)
    service.check_editable(item)  # says so before anything is typed
    return item


def _edit_page(
    request: Request,
    item: CatalogItem,
    values: dict[str, str],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = {"title": f"Edit {item.name}", "item": item, "values": values, "error": error}
    return render(request, "catalog/edit.html", context, status=status)


@router.get("/{item_id}/edit")
def edit_item_page(
    request: Request, item_id: uuid.UUID, session: SessionDep, account: AdminPage
) -> Response:
    item = _manual_item(session, account, item_id)
    currency = item.currency or account.org.default_currency
    values = {
        "name": item.name,
        "description": item.description or "",
        "unit_amount": major_units(item.unit_amount, currency),
        "currency": currency,
    }
    return _edit_page(request, item, values)


@router.post("/{item_id}/edit")
def edit_item(
    request: Request, item_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    item = _manual_item(session, account, item_id)
    try:
        fields = _fields(form, item.currency or account.org.default_currency)
        data = CatalogItemUpdate(**{name: fields[name] for name in _EDITABLE})
        service.update(
            session,
            org_id=account.org.id,
            item_id=item_id,
            data=data,
            actor=Actor.of(account.user),
        )
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = failure(exc)
        values = {name: text(form, name) for name in _EDITABLE}
        return _edit_page(request, item, values, error=message, status=status)
    return redirect("/catalog", success=f"Catalog item {item.name} saved.")
