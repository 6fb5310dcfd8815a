"""Where an entry is on its way to money: its own status until an invoice bills it, then
the invoice's: Draft / Submitted / Approved / Rejected / Invoiced / Paid.

An entry's status stops at `approved`; `invoice_id` links it to the invoice that bills it,
and that invoice's status says whether the client has paid. A voided invoice that kept its
entries still holds them (they cannot change), so they stay "invoiced".
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from regentra.invoices.service import invoices
from regentra.models import Invoice, InvoiceStatus, TimeEntry


class Progress(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"
    invoiced = "invoiced"
    paid = "paid"


def of(entry: TimeEntry, invoice_status: str | None) -> Progress:
    """One entry's progress, given the status of the invoice it is on (if any)."""
    if entry.invoice_id is None:
        return Progress(entry.status)
    return Progress.paid if invoice_status == InvoiceStatus.paid.value else Progress.invoiced


def progress_of(
    session: Session, *, org_id: uuid.UUID, entries: Iterable[TimeEntry]
) -> dict[uuid.UUID, Progress]:
    """Each entry's progress by id, reading the statuses of their invoices in one query."""
    listed = list(entries)
    invoice_ids = {e.invoice_id for e in listed if e.invoice_id is not None}
    statuses: dict[uuid.UUID, str] = {}
    if invoice_ids:
        stmt = (
            invoices.select(org_id)
            .where(Invoice.id.in_(invoice_ids))
            .with_only_columns(Invoice.id, Invoice.status)
        )
        statuses = {row.id: row.status for row in session.execute(stmt)}
    return {e.id: of(e, statuses.get(e.invoice_id) if e.invoice_id else None) for e in listed}
