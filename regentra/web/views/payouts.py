"""Payouts for admins: what Stripe paid out to the org's bank, each with its contents (read
from Stripe when opened) and its QuickBooks state."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from regentra.http.deps import SessionDep
from regentra.integrations.quickbooks import movements as qbo_movements
from regentra.integrations.stripe import payout_contents
from regentra.payouts import service
from regentra.web.auth import AdminPage
from regentra.web.templating import render

router = APIRouter(prefix="/payouts")


@router.get("")
def payouts_page(
    request: Request, session: SessionDep, account: AdminPage, cursor: str | None = None
) -> Response:
    org_id = account.org.id
    page = service.list_payouts(session, org_id=org_id, cursor=cursor)
    postings = qbo_movements.for_subjects(
        session, org_id=org_id, subject_ids={p.id for p in page.items}
    )
    context = {
        "title": "Payouts",
        "payouts": page.items,
        "postings": {pid: list(kinds.values()) for pid, kinds in postings.items()},
        "next_url": f"/payouts?cursor={page.next_cursor}" if page.next_cursor else None,
        "paged": cursor is not None,
    }
    return render(request, "payouts/list.html", context)


@router.get("/{payout_id}")
def payout_page(
    request: Request, payout_id: uuid.UUID, session: SessionDep, account: AdminPage
) -> Response:
    shown = payout_contents.detail(session, org_id=account.org.id, payout_id=payout_id)
    context = {"title": f"Payout {shown['stripe_payout_id']}", "payout": shown}
    return render(request, "payouts/detail.html", context)
