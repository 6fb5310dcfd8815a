"""Payouts: what Stripe paid out of the org's balance to its bank, with what each contained
and its QuickBooks state. Admins only (the org's bank movements)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import Field

from regentra.api.deps import AdminUser, SessionDep
from regentra.api.quickbooks_mapping_schemas import MovementPostingOut
from regentra.api.responses import FOUND, PARAMS, ROLE, STRIPE, errors
from regentra.api.schemas import Page
from regentra.integrations.stripe import payout_contents
from regentra.payouts import service
from regentra.payouts.schemas import PayoutContentOut, PayoutOut

router = APIRouter(prefix="/payouts", tags=["payouts"])


class PayoutDetail(PayoutOut):
    contents: list[PayoutContentOut] | None = Field(
        description="What it paid out (null when Stripe cannot list it now: a manual payout, "
        "Stripe unreachable or disconnected)"
    )
    contents_error: str | None = Field(description="Why the contents could not be read")
    quickbooks: list[MovementPostingOut] = Field(
        description="Its QuickBooks postings: the Transfer, and its return if it failed"
    )


@router.get("", responses=errors(ROLE, PARAMS))
def list_payouts(
    session: SessionDep, user: AdminUser, limit: int | None = None, cursor: str | None = None
) -> Page[PayoutOut]:
    page = service.list_payouts(session, org_id=user.org_id, limit=limit, cursor=cursor)
    return Page[PayoutOut].model_validate(page)


@router.get("/{payout_id}", responses=errors(ROLE, FOUND, PARAMS, STRIPE))
def get_payout(payout_id: uuid.UUID, session: SessionDep, user: AdminUser) -> PayoutDetail:
    """One payout with its contents, read from Stripe now, and its QuickBooks postings."""
    return PayoutDetail.model_validate(
        payout_contents.detail(session, org_id=user.org_id, payout_id=payout_id)
    )
