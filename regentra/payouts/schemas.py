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
