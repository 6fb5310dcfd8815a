from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, computed_field, model_validator

from regentra.audit.schemas import AuditEventOut
from regentra.invoices import after_payment
from regentra.kit.time import IsoDatetime
from regentra.models import (
    AuditEvent,
    Dispute,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Refund,
)
from regentra.models.invoice import MAX_DAYS_UNTIL_DUE, MAX_LINE_QUANTITY

MAX_AMOUNT = 100_000_000_00  # a line of more than a million in major units is a typo
Terms = Field(
    default=None, ge=0, le=MAX_DAYS_UNTIL_DUE, description="Days until the invoice is due"
)


class InvoiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: uuid.UUID
    period_start: date | None = None
    period_end: date | None = None
    # Bill exactly these entries (each must be approved, billable, uninvoiced, this client's).
    entry_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=5000)
    days_until_due: StrictInt | None = Terms
    memo: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _period(self) -> InvoiceCreate:
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise ValueError("period_start must not be after period_end")
        return self


class InvoiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days_until_due: StrictInt | None = Terms
    memo: str | None = Field(default=None, max_length=2000)


class LineCreate(BaseModel):
    """A manual line (description and unit_amount) or a catalog item (catalog_item_id; its
    price is copied now)."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    unit_amount: StrictInt | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    quantity: StrictInt = Field(default=1, ge=1, le=MAX_LINE_QUANTITY)
    catalog_item_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LineCreate:
        if self.catalog_item_id is not None:
            if self.unit_amount is not None:
                raise ValueError("give either catalog_item_id or unit_amount, not both")
        else:
            if self.unit_amount is None:
                raise ValueError("a manual line needs unit_amount (minor units)")
            if not (self.description or "").strip():
                raise ValueError("a manual line needs a description")
        return self


class VoidBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release_entries: bool = Field(
        description="true: the invoice's time entries become billable again; false: they stay "
        "with the voided invoice"
    )


class InvoiceOut(BaseModel):
    """An invoice as lists answer it (without lines)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    client_id: uuid.UUID
    status: InvoiceStatus
    currency: str
    total: int
    period_start: date | None
    period_end: date | None
    days_until_due: int
    memo: str
    stripe_invoice_id: str | None
    hosted_invoice_url: str | None
    due_date: date | None
    sent_at: IsoDatetime | None
    paid_at: IsoDatetime | None
    amount_paid: int | None
    # What Stripe asks the client to pay (minor units), known once sent: the total less any
    # credit balance the client has in Stripe.
    amount_due: int | None
    overdue_at: IsoDatetime | None
    voided_at: IsoDatetime | None
    payment_processing_at: IsoDatetime | None
    # Why the last payment attempt failed (Stripe's decline reason); null once paid.
    payment_failure: str | None
    payment_failed_at: IsoDatetime | None
    created_at: IsoDatetime
    updated_at: IsoDatetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def payment_processing(self) -> bool:
        """A bank payment has started and is not settled yet."""
        return self.payment_processing_at is not None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def credit_applied(self) -> int:
        """How much of the total a credit balance in Stripe paid (0 when none)."""
        if self.amount_due is None:
            return 0
        return max(self.total - self.amount_due, 0)


class InvoiceLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    position: int
    kind: LineKind
    description: str
    time_entry_id: uuid.UUID | None
    catalog_item_id: uuid.UUID | None
    work_date: date | None
    ticket_id: uuid.UUID | None
    ticket_title: str | None
    technician_id: uuid.UUID | None
    technician_name: str | None
    minutes: int | None
    quantity: int
    unit_amount: int
    amount: int
    agreement_id: uuid.UUID | None = Field(
        default=None, description="The agreement the line bills, or whose hours cover it"
    )
    covered_minutes: int | None = Field(
        default=None, description="Of a time line's minutes, those its agreement includes"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hours(self) -> str | None:
        """The minutes as hours with two decimals ("1.50"); null for lines without time."""
        return f"{self.minutes / 60:.2f}" if self.minutes is not None else None


RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]


class RefundCreate(BaseModel):
    """`POST /api/v1/invoices/{id}/refunds`: refund a paid invoice, fully or in part."""

    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(description="Minor units of the invoice's currency, more than 0")
    reason: RefundReason | None = Field(
        default=None, description="Stripe's reason: duplicate, fraudulent, requested_by_customer"
    )
    note: str | None = Field(
        default=None, max_length=500, description="Your words, kept with the refund in Stripe"
    )


class RefundOut(BaseModel):
    """A refund of the invoice's payment (asked for here or made in Stripe)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_id: uuid.UUID
    stripe_refund_id: str | None
    amount: int
    currency: str
    status: str = Field(
        description="requested (not yet accepted by Stripe), pending, requires_action, "
        "succeeded, failed or canceled"
    )
    reason: str | None
    note: str | None
    failure_reason: str | None
    refunded_at: IsoDatetime | None
    created_at: IsoDatetime


class DisputeOut(BaseModel):
    """A dispute (chargeback) of the invoice's card payment."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stripe_dispute_id: str
    amount: int
    currency: str
    status: str = Field(description="Stripe's: needs_response, under_review, won, lost, …")
    reason: str | None
    evidence_due_by: IsoDatetime | None
    opened_at: IsoDatetime | None
    withdrawn: int | None = Field(description="Taken from the balance (settlement currency)")
    withdrawal_fee: int | None
    reinstated: int | None = Field(description="Given back when the dispute was won")
    settlement_currency: str | None


class BadgeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    text: str
    tone: str


class InvoiceDetail(InvoiceOut):
    """One invoice with its client's name, its lines, its status history, and its refunds and
    disputes."""

    client_name: str
    lines: list[InvoiceLineOut]
    timeline: list[AuditEventOut]
    refunds: list[RefundOut] = Field(default_factory=list)
    disputes: list[DisputeOut] = Field(default_factory=list)
    refunded: int = Field(default=0, description="Refunded (pending or succeeded), minor units")
    badges: list[BadgeOut] = Field(
        default_factory=list, description='Shown beside the status: "refunded $5.00", …'
    )

    @classmethod
    def of(
        cls,
        invoice: Invoice,
        *,
        client_name: str,
        lines: Iterable[InvoiceLine],
        timeline: Iterable[AuditEvent],
        refunds: list[Refund] | None = None,
        disputes: list[Dispute] | None = None,
    ) -> InvoiceDetail:
        refunds, disputes = refunds or [], disputes or []
        return cls.model_validate(
            {
                **dict(InvoiceOut.model_validate(invoice)),
                "client_name": client_name,
                "lines": [InvoiceLineOut.model_validate(line) for line in lines],
                "timeline": [AuditEventOut.model_validate(event) for event in timeline],
                "refunds": [RefundOut.model_validate(r) for r in refunds],
                "disputes": [DisputeOut.model_validate(d) for d in disputes],
                "refunded": after_payment.refunded_amount(refunds),
                "badges": [
                    BadgeOut.model_validate(b)
                    for b in after_payment.badges(refunds, disputes, invoice.currency)
                ],
            }
        )


@dataclass(frozen=True)
class PreviewLine:
    """One approved entry as generating would bill it (the service makes these while it
    streams entries, so a plain dataclass; the API answers it as is)."""

    time_entry_id: uuid.UUID
    work_date: date
    ticket_id: uuid.UUID
    ticket_title: str
    technician_id: uuid.UUID
    technician_name: str
    minutes: int
    hourly_rate: int
    amount: int
    description: str


class InvoicePreview(BaseModel):
    """What generating would bill now: the approved entries and the total."""

    client_id: uuid.UUID
    currency: str
    total: int
    lines: list[PreviewLine]
