"""Receivables: what clients owe the org and what came in this month, refunds and lost
disputes taken out, per currency. Admins only (the org's money)."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, Field

from regentra.api.deps import AdminUser, SessionDep
from regentra.api.responses import ROLE, errors
from regentra.invoices import receivables

router = APIRouter(prefix="/receivables", tags=["invoices"])


class CurrencyFigures(BaseModel):
    currency: str = Field(description="ISO 4217 code, upper case")
    outstanding: int = Field(description="Sent and overdue invoices: still due (minor units)")
    overdue: int = Field(description="Of which past the due date")
    paid: int = Field(description="Invoices paid this month (the org's time zone)")
    refunded: int = Field(description="Refunded this month (pending or succeeded refunds)")
    lost_to_disputes: int = Field(description="Disputes lost this month")
    disputed: int = Field(description="Open disputes: the amount at stake now")
    received: int = Field(description="paid minus refunded minus lost_to_disputes")
    unbilled: int = Field(description="Approved, billable time not invoiced yet")
    aging: dict[str, int] = Field(
        description="Overdue amounts by days past due: 1-30, 31-60, 61-90, 90+"
    )
    paid_by_month: dict[str, int] = Field(
        description="Paid per month (YYYY-MM, the org's time zone), the last twelve months, "
        "oldest first; this month's equals `paid`"
    )


class UnbilledClient(BaseModel):
    client_id: uuid.UUID
    name: str
    currency: str
    minutes: int
    amount: int = Field(description="Approved, billable, uninvoiced time's value (minor units)")


class Receivables(BaseModel):
    month_start: date = Field(description="The first day of this month in the org's time zone")
    months: list[str] = Field(description="The twelve months of `paid_by_month`, oldest first")
    currencies: list[CurrencyFigures] = Field(
        description="One entry per currency with money in it, the most outstanding first"
    )
    unbilled_clients: list[UnbilledClient] = Field(
        description="The ten clients with the most unbilled time (an invoice run bills it)"
    )


@router.get("", responses=errors(ROLE))
def get_receivables(session: SessionDep, user: AdminUser) -> Receivables:
    """The org's receivables figures: a paid invoice that was refunded, or whose dispute was
    lost, stays paid; the money shows here."""
    return Receivables.model_validate(receivables.described(session, org_id=user.org_id))
