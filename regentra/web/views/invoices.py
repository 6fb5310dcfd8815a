"""PSA → Invoices: the list, generating a draft from approved time (with a preview), the
invoice page (lines, draft editing, status timeline, payment link), Send, Resend, Void and
Delete.

Admins do everything; approvers read; technicians get 403 (the API's rules). Every action is
a POST form with CSRF that redirects and flashes the outcome; input errors re-render the page
with the message next to the form. The page works without JavaScript; `app.js` adds a Copy
button for the payment link, and `invoices.js` reloads a sent invoice's page when its status
changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra.catalog import service as catalog
from regentra.catalog.lines import fixed_price_items
from regentra.clients.service import all_clients, clients
from regentra.errors import Invalid, RegentraError
from regentra.http.deps import SessionDep
from regentra.integrations.stripe import recording, refunding, resending, sending
from regentra.integrations.stripe import settings as stripe_settings
from regentra.invoices import after_payment, service, transitions
from regentra.invoices.schemas import InvoiceCreate, InvoiceUpdate, LineCreate
from regentra.kit.money import format_money
from regentra.models import (
    AuditEvent,
    CatalogItem,
    Client,
    EntryStatus,
    Invoice,
    InvoiceStatus,
    TimeEntry,
)
from regentra.models.invoice import MAX_DAYS_UNTIL_DUE, MAX_LINE_QUANTITY
from regentra.time_entries.service import entries
from regentra.web import audit_words
from regentra.web.auth import Account, AdminPage, ApproverPage
from regentra.web.forms import (
    FormDep,
    FormMessage,
    failure,
    optional_date,
    parse_amount,
    parse_id,
    text,
)
from regentra.web.templating import redirect, render
from regentra.web.views import quickbooks_mapping

router = APIRouter(prefix="/invoices")


def _sentence(message: str) -> str:
    """A service message as a sentence: capital first letter, closing full stop."""
    if isinstance(message, FormMessage) and message:  # already one, knowing its field
        return message
    message = message.strip()
    if not message:
        return "Something went wrong; try again."
    message = message[:1].upper() + message[1:]
    return message if message[-1] in ".!?" else message + "."


def _whole(raw: str, label: str, low: int, high: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise Invalid(f"{label} must be a whole number from {low} to {high}.") from exc
    if not low <= value <= high:
        raise Invalid(f"{label} must be a whole number from {low} to {high}.")
    return value


def _terms(raw: str) -> int | None:
    return _whole(raw, "Payment terms", 0, MAX_DAYS_UNTIL_DUE) if raw.strip() else None


# ---- generating ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """A client with approved, billable, uninvoiced time in its own currency."""

    client: Client
    entries: int
    minutes: int


def _ready_to_invoice(
    session: Session, org_id: uuid.UUID, names: dict[uuid.UUID, Client]
) -> list[Ready]:
    waiting = (
        entries.select(org_id)
        .where(
            TimeEntry.status == EntryStatus.approved.value,
            TimeEntry.billable.is_(True),
            TimeEntry.invoice_id.is_(None),
        )
        .subquery()
    )
    rows = session.execute(
        select(
            waiting.c.client_id, waiting.c.currency, func.count(), func.sum(waiting.c.minutes)
        ).group_by(waiting.c.client_id, waiting.c.currency)
    ).all()
    ready = [
        Ready(names[client_id], int(count), int(minutes or 0))
        for client_id, currency, count, minutes in rows
        if client_id in names and names[client_id].currency == currency
    ]
    return sorted(ready, key=lambda r: r.client.name.lower())


def _new_page(
    request: Request,
    session: Session,
    account: Account,
    *,
    raw: dict[str, str],
    error: str | None = None,
    code: int = 200,
) -> Response:
    """The generate form; with a client chosen, the preview of what a draft would bill."""
    org = account.org
    names = {c.id: c for c in all_clients(session, org_id=org.id)}
    preview = None
    if raw.get("client_id"):  # after a refused Create too, so the form is there to fix
        try:
            client_id = parse_id(raw["client_id"], "client")
            start = optional_date(raw.get("period_start"), "Period start")
            end = optional_date(raw.get("period_end"), "Period end")
            preview = service.preview(
                session, org=org, client_id=client_id, period_start=start, period_end=end
            )
        except RegentraError as exc:
            if error is None:
                error, code = exc.message, exc.status
    values = {"days_until_due": str(org.default_days_until_due), "memo": "", **raw}
    context = {
        "title": "New invoice",
        "clients": sorted(names.values(), key=lambda c: c.name.lower()),
        "ready": _ready_to_invoice(session, org.id, names),
        "preview": preview,
        "values": values,
        "error": error,
    }
    return render(request, "invoices/new.html", context, status=code)


_PERIOD = ("client_id", "period_start", "period_end")


@router.get("/new")
def new_invoice(
    request: Request,
    session: SessionDep,
    account: AdminPage,
    client_id: str = "",
    period_start: str = "",
    period_end: str = "",
) -> Response:
    raw = {"client_id": client_id, "period_start": period_start, "period_end": period_end}
    return _new_page(request, session, account, raw={k: v.strip()[:100] for k, v in raw.items()})


@router.post("")
def generate(request: Request, session: SessionDep, account: AdminPage, form: FormDep) -> Response:
    raw = {name: text(form, name) for name in (*_PERIOD, "days_until_due", "memo")}
    try:
        data = InvoiceCreate(
            client_id=parse_id(raw["client_id"], "client"),
            period_start=optional_date(raw["period_start"], "Period start"),
            period_end=optional_date(raw["period_end"], "Period end"),
            days_until_due=_terms(raw["days_until_due"]),
            memo=raw["memo"] or None,
        )
        invoice = service.generate(session, org=account.org, user=account.user, data=data)
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, code = failure(exc)
        return _new_page(request, session, account, raw=raw, error=_sentence(message), code=code)
    lines = len(service.lines_of(session, invoice))
    return redirect(
        f"/invoices/{invoice.id}",
        success=f"Draft {invoice.number} created with {lines} line{'' if lines == 1 else 's'}, "
        f"{format_money(invoice.total, invoice.currency)} in all. Check it, then send it.",
    )


# ---- the invoice page ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One entry of the status timeline."""

    at: datetime
    who: str
    action: str
    text: str


def _describe(event: AuditEvent, currency: str) -> str:
    d = event.details or {}

    def money(key: str) -> str:
        value = d.get(key)
        return format_money(int(value), currency) if isinstance(value, int) else ""

    action = event.action
    if action == "invoice.created":
        lines = d.get("lines", 0)
        return f"Draft created: {lines} line{'' if lines == 1 else 's'}, {money('total')}"
    if action == "invoice.updated":
        changed = {"days_until_due": "payment terms", "memo": "memo"}
        fields = ", ".join(changed.get(f, f) for f in d.get("changed", []))
        return f"Draft edited: {fields}" if fields else "Draft edited"
    if action == "invoice.line_added":
        return f"Line added ({d.get('kind', 'manual')}, {money('amount')})"
    if action == "invoice.line_removed":
        return f"Line removed ({d.get('kind', '')}, {money('amount')})"
    if action == "invoice.sent":
        due = f", due {d['due_date']}" if d.get("due_date") else ""
        return f"Sent through Stripe for {money('total')}{due}"
    if action in ("invoice.paid", "invoice.payment_recorded") and d.get("method"):
        how = recording.describe(d["method"], d.get("reference"))
        by = f" by {d['recorded_by']}" if d.get("recorded_by") else ""
        on = f", received {d['received_on']}" if d.get("received_on") else ""
        return f"Payment recorded outside Stripe ({how}){by}: {money('amount_paid')}{on}"
    if action == "invoice.paid":
        return f"Paid {money('amount_paid')}: {d.get('message', 'payment received')}"
    if action == "invoice.payment_processing":
        return "Bank payment processing"
    if action == "invoice.overdue":
        return f"Overdue: it was due {d.get('due_date') or 'earlier'}"
    if action == "invoice.resent":
        to = f" to {d['billing_email']}" if d.get("billing_email") else ""
        return f"Sent again{to} through Stripe"
    if action == "invoice.voided":
        released = int(d.get("released_entries") or 0)
        if released:
            return f"Voided; {released} time entr{'y' if released == 1 else 'ies'} released"
        return "Voided; its time entries stay with it"
    # Anything else (Stripe's payment_succeeded / payment_failed, reconciliation warnings)
    # carries its own words in `message`.
    if d.get("message"):
        said = str(d["message"])
        return said[:1].upper() + said[1:]
    if action.startswith("invoice."):
        return action.removeprefix("invoice.").replace("_", " ").capitalize()
    return audit_words.action_words(action)  # e.g. "QuickBooks: posted"


def _timeline(session: Session, invoice: Invoice) -> list[Step]:
    people = audit_words.people_of(session, invoice.org_id)  # names, not emails
    return [
        Step(
            e.created_at,
            audit_words.actor_name(e, people),
            e.action,
            _describe(e, invoice.currency),
        )
        for e in service.timeline(session, invoice=invoice)
    ]


def _catalog_items(session: Session, org_id: uuid.UUID, currency: str) -> list[CatalogItem]:
    """Active, priced items in the invoice's currency: what can become a line."""
    page = catalog.list_items(session, org_id=org_id, active=True, limit=200)
    priced = [i for i in page.items if i.unit_amount is not None and i.currency == currency]
    return fixed_price_items(priced)


def _invoice_page(
    request: Request,
    session: Session,
    account: Account,
    invoice_id: uuid.UUID,
    *,
    error: str | None = None,
    form_name: str = "",
    values: dict[str, str] | None = None,
    code: int = 200,
) -> Response:
    org_id = account.org.id
    invoice = service.get(session, org_id=org_id, invoice_id=invoice_id)
    client = clients.find(session, org_id=org_id, id=invoice.client_id)
    admin = account.viewer.is_admin
    draft = invoice.status == InvoiceStatus.draft.value
    stuck = draft and invoice.stripe_invoice_id is not None  # a send that did not finish
    editable = admin and draft and not stuck
    defaults = {"days_until_due": str(invoice.days_until_due), "memo": invoice.memo}
    context = {
        "title": f"Invoice {invoice.number}",
        "invoice": invoice,
        "client": client,
        "lines": service.lines_of(session, invoice),
        "timeline": _timeline(session, invoice),
        "editable": editable,
        "stuck": stuck,
        "can_void": admin and invoice.status in transitions.VOIDABLE,
        "can_record_payment": admin
        and invoice.status in service.OPEN
        and invoice.stripe_invoice_id is not None
        and invoice.payment_processing_at is None,  # Stripe refuses while a payment settles
        "payment_methods": recording.METHODS,
        "today": transitions.org_today(account.org).isoformat(),
        "poll": invoice.status in service.OPEN or (draft and stuck),
        "catalog_items": _catalog_items(session, org_id, invoice.currency) if editable else [],
        "stripe_connected": catalog.stripe_connected(session, org_id=org_id) if admin else True,
        "values": {**defaults, **(values or {})},
        "error": error,
        "form_name": form_name,
        "quickbooks": quickbooks_mapping.invoice_section(session, account, invoice),
        **_after_payment(session, account, invoice),
    }
    return render(request, "invoices/detail.html", context, status=code)


REFUND_REASON_LABELS = {
    "requested_by_customer": "Requested by the client",
    "duplicate": "Duplicate payment",
    "fraudulent": "Fraudulent",
}


def _after_payment(session: Session, account: Account, invoice: Invoice) -> dict[str, Any]:
    """The invoice's refunds, disputes and badges, and what is left to refund."""
    ids = {"org_id": invoice.org_id, "invoice_id": invoice.id}
    refunds = after_payment.refunds_of(session, **ids)
    disputes = after_payment.disputes_of(session, **ids)
    paid = invoice.amount_paid if invoice.amount_paid is not None else invoice.total
    left = paid - refunding.refunded(session, **ids)
    can_refund = (
        account.viewer.is_admin
        and invoice.status == InvoiceStatus.paid.value
        and invoice.stripe_invoice_id is not None
        and not disputes
        and left > 0
    )
    return {
        "refunds": refunds,
        "disputes": disputes,
        "badges": after_payment.badges(refunds, disputes, invoice.currency),
        "refund_left": left,
        "can_refund": can_refund,
        "refund_reasons": REFUND_REASON_LABELS,
    }


@router.get("/{invoice_id}")
def invoice_page(
    request: Request, invoice_id: uuid.UUID, session: SessionDep, account: ApproverPage
) -> Response:
    return _invoice_page(request, session, account, invoice_id)


@router.get("/{invoice_id}/status")
def invoice_status(invoice_id: uuid.UUID, session: SessionDep, account: ApproverPage) -> Response:
    """What the page's script polls on a sent invoice: it reloads when this changes."""
    invoice = service.get(session, org_id=account.org.id, invoice_id=invoice_id)
    body = {"status": invoice.status, "processing": invoice.payment_processing_at is not None}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _back(invoice_id: uuid.UUID) -> str:
    return f"/invoices/{invoice_id}"


@router.post("/{invoice_id}/edit")
def edit_draft(
    request: Request, invoice_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    raw = {"days_until_due": text(form, "days_until_due"), "memo": text(form, "memo")}
    service.get(session, org_id=account.org.id, invoice_id=invoice_id)  # 404 for others' ids
    try:
        terms = _terms(raw["days_until_due"])
        if terms is None:
            raise Invalid(f"Payment terms are required: 0 to {MAX_DAYS_UNTIL_DUE} days.")
        data = InvoiceUpdate(days_until_due=terms, memo=raw["memo"])
        service.update_draft(
            session, org=account.org, user=account.user, invoice_id=invoice_id, data=data
        )
    except (RegentraError, ValidationError) as exc:
        return _refused(request, session, account, invoice_id, exc, form_name="edit", values=raw)
    return redirect(_back(invoice_id), success="Payment terms and memo saved.")


def _refused(
    request: Request,
    session: Session,
    account: Account,
    invoice_id: uuid.UUID,
    exc: RegentraError | ValidationError,
    *,
    form_name: str,
    values: dict[str, str],
) -> Response:
    """A draft form the service refused: the invoice page again, with the reason in words
    and what was typed kept in its form."""
    session.rollback()
    message, code = failure(exc)
    return _invoice_page(
        request,
        session,
        account,
        invoice_id,
        error=_sentence(message),
        form_name=form_name,
        values=values,
        code=code,
    )


@router.post("/{invoice_id}/lines")
def add_line(
    request: Request, invoice_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    fields = ("catalog_item_id", "description", "quantity", "unit_amount")
    raw = {name: text(form, name) for name in fields}
    kind = "catalog" if "catalog_item_id" in form else "manual"
    invoice = service.get(session, org_id=account.org.id, invoice_id=invoice_id)
    try:
        quantity = _whole(raw["quantity"] or "1", "Quantity", 1, MAX_LINE_QUANTITY)
        if kind == "catalog":
            data = LineCreate(
                catalog_item_id=parse_id(raw["catalog_item_id"], "catalog item"),
                quantity=quantity,
            )
        else:
            if not raw["description"]:
                raise Invalid("Describe the line, e.g. 'Onsite visit'.")
            price = parse_amount(raw["unit_amount"], invoice.currency, "Unit price")
            if price is None:
                raise Invalid("Enter the unit price, e.g. 125.00.")
            data = LineCreate(description=raw["description"], unit_amount=price, quantity=quantity)
        invoice = service.add_line(
            session, org=account.org, user=account.user, invoice_id=invoice_id, data=data
        )
    except (RegentraError, ValidationError) as exc:
        return _refused(request, session, account, invoice_id, exc, form_name=kind, values=raw)
    total = format_money(invoice.total, invoice.currency)
    return redirect(_back(invoice_id), success=f"Line added. The total is now {total}.")


@router.post("/{invoice_id}/lines/{line_id}/remove")
def remove_line(
    invoice_id: uuid.UUID, line_id: uuid.UUID, session: SessionDep, account: AdminPage
) -> Response:
    service.get(session, org_id=account.org.id, invoice_id=invoice_id)  # 404 for others' ids
    try:
        invoice = service.remove_line(
            session, org=account.org, user=account.user, invoice_id=invoice_id, line_id=line_id
        )
    except RegentraError as exc:
        session.rollback()
        return redirect(_back(invoice_id), error=_sentence(exc.message))
    total = format_money(invoice.total, invoice.currency)
    return redirect(_back(invoice_id), success=f"Line removed. The total is now {total}.")


@router.post("/{invoice_id}/delete")
def delete_draft(invoice_id: uuid.UUID, session: SessionDep, account: AdminPage) -> Response:
    invoice = service.get(session, org_id=account.org.id, invoice_id=invoice_id)
    number = invoice.number
    try:
        service.delete_draft(session, org=account.org, user=account.user, invoice_id=invoice_id)
    except RegentraError as exc:
        session.rollback()
        return redirect(_back(invoice_id), error=_sentence(exc.message))
    return redirect(
        "/invoices",
        success=f"Draft {number} deleted; its time entries can be invoiced again.",
    )


@router.post("/{invoice_id}/send")
def send(invoice_id: uuid.UUID, session: SessionDep, account: AdminPage) -> Response:
    service.get(session, org_id=account.org.id, invoice_id=invoice_id)  # 404 for others' ids
    try:
        invoice = sending.send(session, org=account.org, user=account.user, invoice_id=invoice_id)
    except RegentraError as exc:
        session.rollback()  # as the API does: a retry resumes through the idempotency keys
        return redirect(_back(invoice_id), error=_sentence(exc.message))
    due = f", due {invoice.due_date.isoformat()}" if invoice.due_date else ""
    return redirect(
        _back(invoice_id),
        success=f"Invoice {invoice.number} sent through Stripe{due}. "
        + _who_was_told(session, account.org.id),
    )


@router.post("/{invoice_id}/resend")
def resend(invoice_id: uuid.UUID, session: SessionDep, account: AdminPage) -> Response:
    service.get(session, org_id=account.org.id, invoice_id=invoice_id)  # 404 for others' ids
    try:
        invoice = resending.resend(
            session, org=account.org, user=account.user, invoice_id=invoice_id
        )
    except RegentraError as exc:
        session.rollback()
        return redirect(_back(invoice_id), error=_sentence(exc.message))
    return redirect(
        _back(invoice_id),
        success=f"Invoice {invoice.number} sent again through Stripe. "
        + _who_was_told(session, account.org.id),
    )


@router.post("/{invoice_id}/record-payment")
def record_payment(
    invoice_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    service.get(session, org_id=account.org.id, invoice_id=invoice_id)  # 404 for others' ids
    try:
        invoice = recording.record_payment(
            session,
            org=account.org,
            user=account.user,
            invoice_id=invoice_id,
            method=text(form, "method"),
            reference=text(form, "reference") or None,
            received_on=optional_date(text(form, "received_on"), "Date received"),
        )
    except RegentraError as exc:
        session.rollback()
        return redirect(_back(invoice_id), error=_sentence(exc.message))
    how = recording.describe(text(form, "method"), text(form, "reference") or None)
    paid = invoice.amount_paid if invoice.amount_paid is not None else invoice.total
    return redirect(
        _back(invoice_id),
        success=f"Payment of {format_money(paid, invoice.currency)} ({how}) recorded: invoice "
        f"{invoice.number} is paid, in Stripe too.",
    )


def _who_was_told(session: Session, org_id: uuid.UUID) -> str:
    """Whether the client got Stripe's email: in test mode Stripe sends none."""
    if stripe_settings.connection(session, org_id=org_id).mode == "test":
        return (
            "Stripe is in test mode, so it sends no email to the client: open the payment "
            "link below to see the page the client would get."
        )
    return "The client got an email with the payment link."


@router.post("/{invoice_id}/refund")
def refund(
    invoice_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    invoice = service.get(session, org_id=account.org.id, invoice_id=invoice_id)
    reason = text(form, "reason") or None
    try:
        amount = parse_amount(text(form, "amount"), invoice.currency, "Amount")
        if amount is None:
            raise Invalid("Enter the amount to refund.")
        if reason is not None and reason not in REFUND_REASON_LABELS:
            raise Invalid("Choose a reason from the list.")
        made = refunding.refund(
            session,
            org=account.org,
            user=account.user,
            invoice_id=invoice_id,
            amount=amount,
            reason=reason,
            note=text(form, "note") or None,
        )
    except RegentraError as exc:
        session.rollback()
        return redirect(_back(invoice_id), error=_sentence(exc.message))
    shown = format_money(made.amount, made.currency)
    if made.status == "requested":
        return redirect(
            _back(invoice_id),
            error=f"Refund of {shown} recorded, but Stripe did not answer: Regentra submits "
            "it again by itself within the hour. Do not refund again.",
        )
    return redirect(_back(invoice_id), success=f"Refund of {shown} {made.status} in Stripe.")


@router.post("/{invoice_id}/void")
def void(invoice_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep) -> Response:
    service.get(session, org_id=account.org.id, invoice_id=invoice_id)
    choice = text(form, "release_entries")
    if choice not in ("yes", "no"):
        return redirect(
            _back(invoice_id),
            error="Choose whether the time entries become billable again, then void.",
        )
    try:
        invoice = sending.void(
            session,
            org=account.org,
            user=account.user,
            invoice_id=invoice_id,
            release_entries=choice == "yes",
        )
    except RegentraError as exc:
        session.rollback()
        return redirect(_back(invoice_id), error=_sentence(exc.message))
    after = (
        "its time entries can be invoiced again"
        if choice == "yes"
        else "its time entries stay with it"
    )
    return redirect(_back(invoice_id), success=f"Invoice {invoice.number} voided; {after}.")
