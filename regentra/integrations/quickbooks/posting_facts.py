"""An invoice's facts for its postings, read in one short transaction: the invoice (lines,
client, dates in the org's time zone) and the org's QuickBooks connection and mapping; and
which postings its status calls for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from regentra.db import session_scope
from regentra.integrations.quickbooks import documents, item_mappings
from regentra.models import (
    Client,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Org,
    PostingKind,
    QuickBooksConnection,
)

K = PostingKind
HOME_UNKNOWN = (
    "waiting for the QuickBooks company's home currency (its details could not be read "
    "from QuickBooks yet)"
)


@dataclass(frozen=True)
class Facts:
    """The invoice as read at the start of a run."""

    org_id: uuid.UUID
    invoice_id: uuid.UUID
    number: str
    status: str
    currency: str
    total: int
    amount_paid: int | None
    amount_due: int | None
    sent_at: datetime | None
    paid_at: datetime | None
    due_date: date | None
    stripe_invoice_id: str | None
    client_id: uuid.UUID
    client_name: str
    client_email: str | None
    tz: ZoneInfo
    lines: tuple[documents.Line, ...]

    def day(self, at: datetime | None) -> date:
        """`at` (UTC) as a date in the org's time zone."""
        return (at or datetime.now(tz=self.tz)).astimezone(self.tz).date()

    @property
    def credit(self) -> int:
        """The customer's Stripe credit balance applied: the total less what Stripe asked."""
        asked = self.amount_paid if self.amount_paid is not None else self.amount_due
        return max(self.total - asked, 0) if asked is not None else 0


@dataclass(frozen=True)
class Mapping:
    realm_id: str
    home: str  # "" while the company's home currency is unknown (postings wait then)
    multicurrency: bool
    ready: bool
    why_not: str | None
    deposit: str | None
    other_deposit: str | None
    fee_account: str | None
    paid_from: str | None
    vendor: str | None
    item: str | None
    post_from: date | None
    labels: dict[str, Any]
    payout: str | None = None  # the bank account Stripe payouts go to
    dispute: str | None = None  # the account for disputed amounts


# ---- reading ------------------------------------------------------------------------------


def _line(line: InvoiceLine, items: dict[uuid.UUID, str] | None = None) -> documents.Line:
    """`items`: catalog item id → its income item (`item_mappings.for_postings`)."""
    text = line.description.strip()
    if not text:
        parts = [line.ticket_title or "", line.technician_name or ""]
        text = " — ".join(p for p in parts if p) or "Services"
    if line.minutes:
        covered = line.covered_minutes or 0  # by an agreement's included hours: not charged
        extra = f", {covered} covered by the agreement" if covered else ""
        text = f"{text} ({line.minutes} min{extra})"
    # Every kind (time, manual, catalog, agreement) is mirrored; a line of a catalog item
    # (catalog, agreement) posts to that item's income item when one is chosen, any other
    # to the org's income item (`item_id` None).
    item_id = (items or {}).get(line.catalog_item_id) if line.catalog_item_id else None
    return documents.Line(text, int(line.amount), int(line.quantity), line.work_date, item_id)


def load(invoice_id: uuid.UUID) -> tuple[Facts, Mapping] | None:
    """The invoice and its org's connection (None: no such invoice, or QuickBooks not
    connected)."""
    with session_scope() as session:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            return None
        conn = session.scalar(
            select(QuickBooksConnection).where(QuickBooksConnection.org_id == invoice.org_id)
        )
        if conn is None or not connected(conn):
            return None
        org = session.get(Org, invoice.org_id)
        client = session.get(Client, invoice.client_id)
        lines = session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.org_id == invoice.org_id, InvoiceLine.invoice_id == invoice.id)
            .order_by(InvoiceLine.position)
        ).all()
        items = item_mappings.for_postings(session, org_id=invoice.org_id, realm_id=conn.realm_id)
        ours = [_line(x, items) for x in lines]
        rest = invoice.total - sum(x.amount for x in ours)
        if rest:  # our lines always add up; never post a total that does not
            ours.append(documents.Line("Adjustment", rest))
        facts = Facts(
            org_id=invoice.org_id,
            invoice_id=invoice.id,
            number=invoice.number,
            status=invoice.status,
            currency=invoice.currency.upper(),
            total=invoice.total,
            amount_paid=invoice.amount_paid,
            amount_due=invoice.amount_due,
            sent_at=invoice.sent_at,
            paid_at=invoice.paid_at,
            due_date=invoice.due_date,
            stripe_invoice_id=invoice.stripe_invoice_id,
            client_id=invoice.client_id,
            client_name=client.name if client else f"Client {invoice.client_id}",
            client_email=client.billing_email if client else None,
            tz=ZoneInfo(org.timezone if org else "UTC"),
            lines=tuple(ours),
        )
        mapping = mapping_of(conn)
        return facts, mapping


def connected(conn: QuickBooksConnection | None) -> bool:
    return conn is not None and conn.realm_id is not None and conn.connected_at is not None


def mapping_of(conn: QuickBooksConnection) -> Mapping:
    """The connection's mapping, and whether postings may run now (`ready`, else why not)."""
    assert conn.realm_id is not None
    why = None
    if conn.reconnect_needed_at is not None:
        why = conn.reconnect_reason or "QuickBooks needs to be connected again"
    elif conn.mapping_saved_at is None:
        why = "waiting for the QuickBooks account mapping to be saved"
    elif not conn.home_currency:
        # Never guess it: with an unknown home currency every currency would look home.
        why = HOME_UNKNOWN
    return Mapping(
        realm_id=conn.realm_id,
        home=(conn.home_currency or "").upper(),
        multicurrency=bool(conn.multicurrency),
        ready=why is None,
        why_not=why,
        deposit=conn.deposit_account_id,
        other_deposit=conn.other_deposit_account_id,
        fee_account=conn.fee_account_id,
        paid_from=conn.fee_paid_from_account_id,
        vendor=conn.fee_vendor_id,
        item=conn.income_item_id,
        post_from=conn.post_from,
        labels=dict(conn.mapping_labels or {}),
        payout=conn.payout_account_id,
        dispute=conn.dispute_account_id,
    )


def load_mapping(org_id: uuid.UUID) -> Mapping | None:
    """The org's mapping (None: QuickBooks not connected), read in a short transaction."""
    with session_scope() as session:
        conn = session.scalar(
            select(QuickBooksConnection).where(QuickBooksConnection.org_id == org_id)
        )
        return mapping_of(conn) if conn is not None and connected(conn) else None


def due_kinds(facts: Facts) -> list[str]:
    """The postings the invoice's status calls for, in order."""
    if facts.status in (InvoiceStatus.sent.value, InvoiceStatus.overdue.value):
        return [K.invoice.value]
    if facts.status == InvoiceStatus.paid.value:
        kinds = [K.invoice.value] if facts.sent_at is not None else []
        if facts.credit > 0:
            kinds.append(K.credit.value)
        return [*kinds, K.payment.value, K.fee.value]
    if facts.status == InvoiceStatus.void.value and facts.sent_at is not None:
        return [K.void.value]
    return []
