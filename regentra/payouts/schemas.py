from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from regentra.kit.time import IsoDatetime


class PayoutOut(BaseModel):
    """A Stripe payout of the org's balance to its bank (amounts in minor units)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stripe_payout_id: str
    amount: int
    currency: str
    status: str = Field(description="Stripe's: pending, in_transit, paid, failed or canceled")
    automatic: bool
    arrival_date: date | None
    stripe_created: IsoDatetime | None
    failure_code: str | None
    failure_message: str | None


class MovementPostingOut(BaseModel):
    """What was posted (or is to be) to QuickBooks for a payout, refund or dispute."""

    id: uuid.UUID
    kind: str = Field(description="refund, dispute, reinstatement, payout or payout_return")
    state: str
    quickbooks_id: str | None
    quickbooks_type: str | None
    amount: int | None
    currency: str | None
    attempts: int
    error: str | None
    posted_at: IsoDatetime | None


class PayoutContentOut(BaseModel):
    """One balance transaction the payout paid out."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str = Field(description="payment, refund, dispute, returned payout, payout, …")
    amount: int
    fee: int
    net: int
    currency: str
    source: str | None
    description: str | None
    invoice_id: uuid.UUID | None
    invoice_number: str | None


class PayoutDetail(PayoutOut):
    contents: list[PayoutContentOut] | None = Field(
        description="What it paid out (null when Stripe cannot list it: a manual payout)"
    )
    contents_error: str | None = Field(description="Why the contents could not be read")
    quickbooks: list[MovementPostingOut] = Field(
        description="Its QuickBooks postings: the Transfer, and its return if it failed"
    )
