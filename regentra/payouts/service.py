"""The org's Stripe payouts as mirrored here (`integrations/stripe/movements.py` keeps them):
listed newest first, one found by id, within one org only."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.errors import NotFound
from regentra.kit.pagination import Page, paginate
from regentra.models import Payout


def list_payouts(
    session: Session, *, org_id: uuid.UUID, limit: int | None = None, cursor: str | None = None
) -> Page[Payout]:
    stmt = select(Payout).where(Payout.org_id == org_id)
    return paginate(session, stmt, Payout.id, limit=limit, cursor=cursor)


def get_payout(session: Session, *, org_id: uuid.UUID, payout_id: uuid.UUID) -> Payout:
    found = session.scalar(select(Payout).where(Payout.org_id == org_id, Payout.id == payout_id))
    if found is None:
        raise NotFound("payout not found")
    return found
