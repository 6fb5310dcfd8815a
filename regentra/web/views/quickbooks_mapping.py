"""Settings → Integrations → QuickBooks: the mapping form, the postings' counts and recent
failures with Retry (admins), and the QuickBooks section of an invoice's page.

`card(session, account)` is what `integrations/_quickbooks_mapping.html` shows (None when
QuickBooks is not connected): the form's selects are filled from the company's live lists,
with the saved choice or else the suggestion preselected. Reading them talks to QuickBooks,
so the request's transaction is ended first (on SQLite it holds the write lock, and the
QuickBooks client opens sessions of its own). A QuickBooks outage shows in words on the
card, never as a failed page.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from regentra.audit.service import Actor
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.integrations.quickbooks import connection, item_mappings, mapping, movements, postings
from regentra.integrations.quickbooks.mapping import FIELDS, MappingBody
from regentra.models import Invoice, PostingState, QuickBooksPosting
from regentra.web.auth import Account, AdminPage, safe_next
from regentra.web.forms import FormDep, failure, text
from regentra.web.templating import redirect, render

router = APIRouter(prefix="/integrations/quickbooks")

KIND_LABELS = {
    "invoice": "Invoice mirror",
    "credit": "Credit memo (Stripe credit balance)",
    "payment": "Payment",
    "fee": "Stripe fee (Purchase)",
    "void": "Void of the mirror",
}
MOVEMENT_LABELS = {
    "refund": "Refund (RefundReceipt)",
    "dispute": "Dispute withdrawal (Purchase)",
    "reinstatement": "Dispute won (Deposit)",
    "payout": "Payout (Transfer)",
    "payout_return": "Failed payout returned (Transfer)",
    "refund_return": "Failed refund returned (Deposit)",
}
RECENT_FAILURES = 10
CREATE = "create"
CATALOG_PREFIX = "catalog_item:"  # a form field per catalog item: its income item (blank: default)


def _typed(form: FormData | None, limit: int = 100) -> dict[str, str]:
    if form is None:
        return {}
    names = [f"{spec.name}_id" for spec in FIELDS] + ["create_vendor", "post_from"]
    return {name: text(form, name)[:limit] for name in names}


def _catalog_typed(form: FormData | None) -> dict[str, str]:
    """catalog item id (text) → the item chosen on the form ("" for the default)."""
    if form is None:
        return {}
    return {
        key[len(CATALOG_PREFIX) :][:100]: text(form, key)[:100]
        for key in form.keys()  # noqa: SIM118 (FormData is a multi-dict)
        if key.startswith(CATALOG_PREFIX)
    }


def _failures(session: Session, org_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = session.execute(
        select(QuickBooksPosting, Invoice.number)
        .join(Invoice, Invoice.id == QuickBooksPosting.invoice_id)
        .where(
            QuickBooksPosting.org_id == org_id,
            QuickBooksPosting.state == PostingState.failed.value,
        )
        .order_by(QuickBooksPosting.updated_at.desc(), QuickBooksPosting.id.desc())
        .limit(RECENT_FAILURES)
    ).all()
    return [
        {
            "id": posting.id,
            "invoice_id": posting.invoice_id,
            "invoice_number": number,
            "kind": posting.kind,
            "kind_label": KIND_LABELS.get(posting.kind, posting.kind),
            "error": posting.last_error or "QuickBooks refused it",
        }
        for posting, number in rows
    ]


def _movement_failures(session: Session, org_id: uuid.UUID) -> list[dict[str, Any]]:
    out = []
    for posting in movements.recent_failures(session, org_id=org_id, limit=RECENT_FAILURES):
        described = movements.describe(posting) or {}
        subject = described.get("subject")
        page = None
        if subject == "payout":
            page = f"/payouts/{posting.subject_id}"
        elif posting.invoice_id is not None:
            page = f"/invoices/{posting.invoice_id}"
        out.append(
            {
                **described,
                "kind_label": MOVEMENT_LABELS.get(posting.kind, posting.kind),
                "page": page,
                "error": posting.last_error or "QuickBooks refused it",
            }
        )
    return out


def card(
    session: Session,
    account: Account,
    *,
    error: str | None = None,
    form: FormData | None = None,
) -> dict[str, Any] | None:
    """The mapping part of the QuickBooks card, or None when QuickBooks is not connected."""
    org_id = account.org.id
    conn = connection.find(session, org_id=org_id)
    if not connection.is_connected(conn) or conn is None:
        return None
    view: dict[str, Any] = {
        "company_name": conn.company_name,
        "reconnect_needed": conn.reconnect_needed_at is not None,
        "saved": mapping.saved(conn),
        "notes": mapping.notes(conn),
        "summary": postings.summary(session, org_id=org_id),
        "failures": _failures(session, org_id),
        "movement_summary": movements.summary(session, org_id=org_id),
        "movement_failures": _movement_failures(session, org_id),
        "kind_labels": KIND_LABELS,
        "error": error,
        "fields": [],
        "choices_error": None,
    }
    typed = _typed(form)
    saved_ids = {f"{spec.name}_id": getattr(conn, f"{spec.name}_id") for spec in FIELDS}
    today = mapping.today_for(session, org_id)
    view["post_from"] = typed.get("post_from") or (
        conn.post_from.isoformat() if conn.post_from else today.isoformat()
    )
    view["create_vendor"] = typed.get("create_vendor", "")
    catalog = item_mappings.listed(session, org_id=org_id, realm_id=conn.realm_id)
    view["catalog_items"] = []
    if view["reconnect_needed"]:
        return view
    session.commit()  # no transaction open while QuickBooks answers
    try:
        live = mapping.choices(org_id, page=True)
    except RegentraError as exc:
        view["choices_error"] = exc.message
        return view
    for spec in FIELDS:
        field = live["fields"][spec.name]
        key = f"{spec.name}_id"
        suggested = field["suggested_id"]
        if spec.optional and conn.mapping_saved_at is not None:
            suggested = None  # left unset on purpose, or saved before the field existed
        chosen = typed.get(key) or saved_ids.get(key) or suggested or ""
        if chosen not in {o["id"] for o in field["options"]} | {CREATE}:
            chosen = ""  # no longer a choice (inactive, another type): "Choose…"
        if spec.name == "fee_vendor" and not chosen and field.get("create_suggested"):
            chosen = CREATE
            view["create_vendor"] = view["create_vendor"] or field["create_suggested"]
        view["fields"].append({"name": spec.name, "key": key, "chosen": chosen, **field})
    # Income items per catalog item: the income item's choices, blank for the default.
    options = live["fields"]["income_item"]["options"]
    known = {o["id"] for o in options}
    catalog_typed = _catalog_typed(form)
    for item in catalog:
        key = str(item["catalog_item_id"])
        chosen = catalog_typed.get(key, item["quickbooks_item_id"] or "")
        view["catalog_items"].append(
            {
                **item,
                "key": CATALOG_PREFIX + key,
                "chosen": chosen if chosen in known else "",
                "missing": item["quickbooks_item_name"] if chosen and chosen not in known else None,
                "options": options,
            }
        )
    return view


def _body(form: FormData) -> MappingBody:
    typed = {key: value or None for key, value in _typed(form, limit=1000).items()}
    if typed["fee_vendor_id"] in (None, CREATE):
        typed["fee_vendor_id"] = None
    else:
        typed["create_vendor"] = None
    catalog = [
        {"catalog_item_id": key, "quickbooks_item_id": value or None}
        for key, value in _catalog_typed(form).items()
    ]
    return MappingBody.model_validate({**typed, "catalog_items": catalog})


def _page(request: Request, view: dict[str, Any] | None, status: int = 200) -> Response:
    context = {"title": "QuickBooks mapping", "quickbooks_mapping": view, "standalone": True}
    return render(request, "integrations/quickbooks_mapping.html", context, status=status)


@router.get("/mapping")
def mapping_page(request: Request, session: SessionDep, account: AdminPage) -> Response:
    mapping.require_connection(session, org_id=account.org.id)
    return _page(request, card(session, account))


@router.post("/mapping")
def save_mapping(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    try:
        body = _body(form)
        mapping.save(session, org_id=account.org.id, body=body, actor=Actor.of(account.user))
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = failure(exc)
        if isinstance(exc, RegentraError) and exc.status == 409:
            return redirect("/integrations", error=message)
        return _page(request, card(session, account, error=message, form=form), status)
    return redirect(
        "/integrations#quickbooks",
        success="QuickBooks mapping saved; postings waiting for it will run now.",
    )


@router.post("/postings/{posting_id}/retry")
def retry_posting(
    posting_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    back = safe_next(text(form, "next") or "/integrations#quickbooks")
    try:
        posting = postings.retry(
            session, org_id=account.org.id, posting_id=posting_id, actor=Actor.of(account.user)
        )
    except RegentraError as exc:
        if exc.status == 404:
            raise
        return redirect(back, error=exc.message[:1].upper() + exc.message[1:])
    label = KIND_LABELS.get(posting.kind, posting.kind)
    return redirect(back, success=f"{label}: trying again now.")


@router.post("/movement-postings/{posting_id}/retry")
def retry_movement_posting(
    posting_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    """Retry a refund's, dispute's or payout's posting (a form's button on the pages that
    show them; `next` says where to go back)."""
    back = safe_next(text(form, "next") or "/integrations#quickbooks")
    try:
        posting = movements.retry(
            session, org_id=account.org.id, posting_id=posting_id, actor=Actor.of(account.user)
        )
    except RegentraError as exc:
        if exc.status == 404:
            raise
        return redirect(back, error=exc.message[:1].upper() + exc.message[1:])
    label = MOVEMENT_LABELS.get(posting.kind, posting.kind)
    return redirect(back, success=f"{label}: trying again now.")


# ---- the invoice page --------------------------------------------------------------------


def invoice_section(session: Session, account: Account, invoice: Invoice) -> dict[str, Any] | None:
    """The invoice page's QuickBooks section: its postings in the order they run, each with
    a link to the object; None when QuickBooks was never connected (and nothing posted)."""
    org_id = account.org.id
    conn = connection.find(session, org_id=org_id)
    rows = postings.for_invoice(session, org_id=org_id, invoice_id=invoice.id)
    if not rows and (conn is None or conn.connected_at is None):
        return None
    items = []
    for kind in postings.ORDER:
        row = rows.get(kind.value)
        if row is None:
            continue
        items.append(
            {
                **(postings.describe(row) or {}),
                "label": KIND_LABELS.get(row.kind, row.kind),
                "link": mapping.object_link(conn, row.qbo_type, row.qbo_id, realm_id=row.realm_id),
                "can_retry": account.viewer.is_admin
                and row.state in (PostingState.failed.value, PostingState.waiting.value),
            }
        )
    return {
        "connected": connection.is_connected(conn),
        "company_name": conn.company_name if conn else None,
        "ready": connection.ready(conn),
        "items": items,
    }
