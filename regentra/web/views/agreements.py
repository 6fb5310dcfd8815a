"""Client agreements as pages (issue 17): the client page lists a client's agreements and
makes new ones (admins); an agreement's page shows its lines with their dated terms, the next
invoice as a run would bill it now, and the periods billed; admins add a line (a fixed quantity
or the client's open tickets), change one from a date on, edit the agreement (name, end, hours,
rate, its own invoice) and delete one never billed (a ticked "Yes, delete" box, as Disconnect
Stripe asks). Admins and approvers read them, as they read invoices."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from regentra.agreements import service
from regentra.agreements.schemas import (
    MAX_QUANTITY,
    AgreementCreate,
    AgreementUpdate,
    LineChange,
    LineCreate,
)
from regentra.clients.service import clients
from regentra.errors import Invalid, RegentraError
from regentra.http.deps import SessionDep
from regentra.kit.money import format_money
from regentra.models import Role
from regentra.web.agreement_section import BILLINGS, PERIODS, catalog_items
from regentra.web.auth import Account, AdminPage, ApproverPage
from regentra.web.forms import (
    FieldInvalid,
    FormDep,
    FormMessage,
    checkbox,
    failure,
    optional_date,
    optional_id,
    parse_amount,
    parse_date,
    parse_duration,
    parse_id,
    text,
)
from regentra.web.templating import major_units, redirect, render
from regentra.web.views.clients import client_page  # the page the New agreement form is on

router = APIRouter(prefix="/agreements")

MAX_INCLUDED_MINUTES = 100_000
_PLAIN_HOURS = re.compile(r"^\d+(?:\.\d+)?$")

_AGREEMENT_FIELDS = (
    "name",
    "starts_on",
    "ends_on",
    "period",
    "billing",
    "included_hours",
    "rollover",
    "hourly_rate",
    "catalog_item_id",
    "description",
    "unit_amount",
    "quantity",
    "quantity_rule",
    "separate_invoice",
)
_LINE_FIELDS = (
    "catalog_item_id",
    "description",
    "unit_amount",
    "quantity",
    "quantity_rule",
    "effective_from",
)
_EDIT_FIELDS = (
    "name",
    "ends_on",
    "included_hours",
    "rollover",
    "hourly_rate",
    "separate_invoice",
)
RULES = ("fixed", "open_tickets")
_CHANGE_FIELDS = ("line_id", "effective_from", "quantity", "unit_amount")


def _included_minutes(raw: str) -> int | None:
    """Included hours typed as hours ("10", "7.5") or h:mm ("7:30"); blank: none."""
    if not raw:
        return None
    typed = raw + "h" if _PLAIN_HOURS.match(raw) else raw
    return parse_duration(
        typed, "included_hours", label="Included hours", maximum=MAX_INCLUDED_MINUTES
    )


def _quantity(raw: str, *, low: int = 0) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if not low <= value <= MAX_QUANTITY:
        raise FieldInvalid(
            f"Quantity must be a whole number from {low} to {MAX_QUANTITY}.",
            field="quantity",
            label="Quantity",
        )
    return value


def _line(raw: dict[str, str], currency: str, *, required: bool) -> LineCreate | None:
    """A line typed in a form: a catalog item (its name and price unless typed), or a
    description and a unit price. None: nothing typed and none required."""
    item_id = optional_id(raw["catalog_item_id"], "catalog item")
    price = parse_amount(raw["unit_amount"], currency, "Unit price", field="unit_amount")
    description = raw["description"] or None
    if item_id is None and description is None and price is None:
        if required:
            raise FieldInvalid(
                "Choose a catalog item, or describe the line and give its unit price.",
                field="catalog_item_id",
                label="Catalog item",
            )
        return None
    if item_id is None and description is None:
        raise FieldInvalid(
            "Describe the line, e.g. 'Managed endpoint', or choose a catalog item.",
            field="description",
            label="Description",
        )
    if item_id is None and price is None:
        raise FieldInvalid(
            "Enter the unit price, e.g. 25.00.", field="unit_amount", label="Unit price"
        )
    rule = raw.get("quantity_rule") or "fixed"
    if rule not in RULES:
        raise FieldInvalid(
            "Choose a fixed quantity or the client's open tickets.",
            field="quantity_rule",
            label="Quantity",
        )
    # Open tickets: counted when billed; the typed quantity is not used.
    quantity = _quantity(raw["quantity"] or "1") if rule == "fixed" else 1
    return LineCreate(
        catalog_item_id=item_id,
        description=description,
        unit_amount=price,
        quantity=quantity,
        quantity_rule=rule,  # checked against RULES above
        effective_from=optional_date(raw.get("effective_from"), "From date", "effective_from"),
    )


def _with_field(message: str, field: str, label: str) -> str:
    """A service's message about a date of the form, pointed at that input."""
    if getattr(message, "field", None):
        return message
    return FormMessage(message, field, label)


@router.post("")
def create_agreement(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    raw = {name: text(form, name) for name in _AGREEMENT_FIELDS}
    client_id = parse_id(text(form, "client_id"), "client")
    client = clients.get(session, org_id=account.org.id, id=client_id)  # 404: not ours
    try:
        starts_on = parse_date(raw["starts_on"], "Start date", "starts_on")
        ends_on = optional_date(raw["ends_on"], "End date", "ends_on")
        if ends_on is not None and ends_on < starts_on:
            raise FieldInvalid(
                "The end date must not be before the start date.", field="ends_on", label="End date"
            )
        line = _line(raw, client.currency, required=False)
        data = AgreementCreate(
            client_id=client.id,
            name=raw["name"],
            starts_on=starts_on,
            ends_on=ends_on,
            period=raw["period"] or "monthly",
            billing=raw["billing"] or "advance",
            included_minutes=_included_minutes(raw["included_hours"]),
            rollover=checkbox(form, "rollover"),
            hourly_rate=parse_amount(raw["hourly_rate"], client.currency, "Hourly rate"),
            separate_invoice=checkbox(form, "separate_invoice"),
            lines=[line] if line is not None else [],
        )
        agreement = service.create(session, org=account.org, user=account.user, data=data)
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = failure(exc)
        return client_page(
            request,
            session,
            account,
            client,
            agreement_values=raw,
            agreement_error=message,
            status=status,
        )
    return redirect(f"/agreements/{agreement.id}", success=f"Agreement {agreement.name} created.")


def _page(
    request: Request,
    session: Session,
    account: Account,
    agreement_id: uuid.UUID,
    *,
    form_name: str | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    agreement = service.agreements.get(session, org_id=account.org.id, id=agreement_id)
    shown = service.describe(session, agreement)
    admin = account.user.has_role(Role.admin)
    # The edit form starts from the agreement as it is, unless it comes back with an error.
    values_edit = (values or {}) if form_name == "edit" else _edit_values(shown)
    context = {
        "title": agreement.name,
        "agreement": shown,
        "preview": service.preview(session, agreement),
        "period_words": dict(PERIODS),
        "billing_words": dict(BILLINGS),
        "catalog_items": catalog_items(session, account.org.id, shown["currency"]) if admin else [],
        "form_name": form_name,
        "values": values or {},
        "edit_values": values_edit,
        "error": error,
    }
    return render(request, "agreements/detail.html", context, status=status)


def _refused(
    request: Request,
    session: Session,
    account: Account,
    agreement_id: uuid.UUID,
    exc: RegentraError | ValidationError,
    *,
    form_name: str,
    values: dict[str, str] | None = None,
    pointing: tuple[str, str, str] | None = None,
) -> Response:
    """The agreement page again, its `form_name` form showing why `exc` refused it (nothing
    kept); `pointing` (word, field, label): a message naming the word goes on that input."""
    session.rollback()
    message, status = failure(exc)
    if pointing is not None and pointing[0] in message.lower():
        message = _with_field(message, pointing[1], pointing[2])
    return _page(
        request,
        session,
        account,
        agreement_id,
        form_name=form_name,
        values=values,
        error=message,
        status=status,
    )


def _edit_values(shown: dict[str, object]) -> dict[str, str]:
    """The edit form's inputs as the agreement is now."""
    minutes = shown["included_minutes"]
    rate = shown["hourly_rate"]
    currency = str(shown["currency"])
    return {
        "name": str(shown["name"]),
        "ends_on": str(shown["ends_on"] or ""),
        "included_hours": (
            f"{minutes // 60}:{minutes % 60:02d}" if isinstance(minutes, int) and minutes else ""
        ),
        "rollover": "on" if shown["rollover"] else "",
        "hourly_rate": major_units(rate if isinstance(rate, int) else None, currency),
        "separate_invoice": "on" if shown["separate_invoice"] else "",
    }


@router.get("/{agreement_id}")
def agreement_page(
    request: Request, agreement_id: uuid.UUID, session: SessionDep, account: ApproverPage
) -> Response:
    return _page(request, session, account, agreement_id)


@router.post("/{agreement_id}/lines")
def add_line(
    request: Request,
    agreement_id: uuid.UUID,
    session: SessionDep,
    account: AdminPage,
    form: FormDep,
) -> Response:
    agreement = service.agreements.get(session, org_id=account.org.id, id=agreement_id)
    client = clients.get(session, org_id=account.org.id, id=agreement.client_id)
    raw = {name: text(form, name) for name in _LINE_FIELDS}
    try:
        data = _line(raw, client.currency, required=True)
        assert data is not None
        line = service.add_line(
            session, org=account.org, user=account.user, agreement_id=agreement_id, data=data
        )
    except (RegentraError, ValidationError) as exc:
        return _refused(
            request,
            session,
            account,
            agreement_id,
            exc,
            form_name="line",
            values=raw,
            pointing=("date", "effective_from", "From date"),
        )
    return redirect(f"/agreements/{agreement_id}", success=f"Line {line.description} added.")


@router.post("/{agreement_id}/changes")
def change_line(
    request: Request,
    agreement_id: uuid.UUID,
    session: SessionDep,
    account: AdminPage,
    form: FormDep,
) -> Response:
    agreement = service.agreements.get(session, org_id=account.org.id, id=agreement_id)
    client = clients.get(session, org_id=account.org.id, id=agreement.client_id)
    raw = {name: text(form, name) for name in _CHANGE_FIELDS}
    try:
        line_id = parse_id(raw["line_id"], "line")
        effective_from = parse_date(raw["effective_from"], "From date", "effective_from")
        quantity = _quantity(raw["quantity"]) if raw["quantity"] else None
        price = parse_amount(raw["unit_amount"], client.currency, "Unit price", "unit_amount")
        if quantity is None and price is None:
            raise FieldInvalid(
                "Give a new quantity or a new unit price.", field="quantity", label="Quantity"
            )
        data = LineChange(effective_from=effective_from, quantity=quantity, unit_amount=price)
        service.change_line(
            session,
            org=account.org,
            user=account.user,
            agreement_id=agreement_id,
            line_id=line_id,
            data=data,
        )
    except (RegentraError, ValidationError) as exc:
        return _refused(
            request,
            session,
            account,
            agreement_id,
            exc,
            form_name="change",
            values=raw,
            pointing=("date", "effective_from", "From date"),
        )
    preview = service.preview(session, agreement)
    total = format_money(preview["total"], preview["currency"])
    return redirect(
        f"/agreements/{agreement_id}",
        success=f"Line changed from {effective_from}. The next invoice's total is {total}.",
    )


@router.post("/{agreement_id}/edit")
def edit_agreement(
    request: Request,
    agreement_id: uuid.UUID,
    session: SessionDep,
    account: AdminPage,
    form: FormDep,
) -> Response:
    """Name, end date (blank: open-ended), included hours, rollover, hourly rate (blank: the
    client's) and a separate invoice; the service refuses an end before the last period
    billed (one inside it: the next run credits the days after the end)."""
    agreement = service.agreements.get(session, org_id=account.org.id, id=agreement_id)
    client = clients.get(session, org_id=account.org.id, id=agreement.client_id)
    raw = {name: text(form, name) for name in _EDIT_FIELDS}
    try:
        if not raw["name"]:
            raise FieldInvalid("Name is required.", field="name", label="Name")
        ends_on = optional_date(raw["ends_on"], "End date", "ends_on")
        rate = parse_amount(raw["hourly_rate"], client.currency, "Hourly rate")
        data = AgreementUpdate(
            name=raw["name"],
            ends_on=ends_on,
            clear_end=ends_on is None,
            included_minutes=_included_minutes(raw["included_hours"]) or 0,
            rollover=checkbox(form, "rollover"),
            hourly_rate=rate,
            clear_hourly_rate=rate is None,
            separate_invoice=checkbox(form, "separate_invoice"),
        )
        service.update(
            session, org=account.org, user=account.user, agreement_id=agreement_id, data=data
        )
    except (RegentraError, ValidationError) as exc:
        return _refused(
            request,
            session,
            account,
            agreement_id,
            exc,
            form_name="edit",
            values=raw,
            pointing=("end date", "ends_on", "End date"),
        )
    return redirect(f"/agreements/{agreement_id}", success=f"Agreement {raw['name']} saved.")


@router.post("/{agreement_id}/delete")
def delete_agreement(
    request: Request,
    agreement_id: uuid.UUID,
    session: SessionDep,
    account: AdminPage,
    form: FormDep,
) -> Response:
    """Delete an agreement never billed, once its "Yes, delete" box is ticked; one billed is
    refused in words (409): it ends instead."""
    agreement = service.agreements.get(session, org_id=account.org.id, id=agreement_id)
    name, client_id = agreement.name, agreement.client_id
    try:
        if not checkbox(form, "confirm"):
            raise Invalid("Tick the box to confirm deleting this agreement.")
        service.delete(session, org=account.org, user=account.user, agreement_id=agreement_id)
    except RegentraError as exc:
        return _refused(request, session, account, agreement_id, exc, form_name="delete")
    return redirect(f"/clients/{client_id}", success=f"Agreement {name} deleted.")
