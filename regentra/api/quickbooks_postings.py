"""Settings → Integrations → QuickBooks: the account mapping and the postings (admins only).

The mapping's choices are read live from the connected company, so the request's
transaction is ended before QuickBooks is asked (on SQLite it holds the database's write
lock, and the QuickBooks client opens sessions of its own for the tokens).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.api.deps import AdminUser, SessionDep
from regentra.api.quickbooks_mapping_schemas import (
    InvoiceQuickBooks,
    MovementPostingOut,
    PostingListItem,
    QuickBooksMapping,
)
from regentra.api.responses import BODY, CONFLICT, FOUND, PARAMS, ROLE, Group, errors
from regentra.api.schemas import Page
from regentra.audit.service import Actor
from regentra.integrations.quickbooks import item_mappings, mapping, movements, postings
from regentra.integrations.quickbooks.mapping import MappingBody
from regentra.kit.pagination import paginate
from regentra.models import (
    Invoice,
    MovementKind,
    PostingKind,
    PostingState,
    QuickBooksMovementPosting,
    QuickBooksPosting,
)

router = APIRouter(prefix="/integrations/quickbooks", tags=["integrations"])

QBO_CONNECTION: Group = {
    409: "QuickBooks is not connected (`quickbooks_not_connected`) or must be connected "
    "again (`quickbooks_reconnect_needed`).",
}
QBO: Group = {
    422: "QuickBooks refused the request (`quickbooks_rejected`, with its words).",
    503: "QuickBooks could not be reached or is rate limiting (`quickbooks_unavailable`).",
}
MAPPING: Group = {
    422: "An id is missing, inactive or of the wrong type, or a catalog item is not one of "
    "the org's active ones (`quickbooks_mapping_invalid`, with `fields` naming each field, "
    "e.g. `catalog_items[0]`, and the object's actual type).",
}


def _view(session: Session, org_id: uuid.UUID, *, live: bool) -> QuickBooksMapping:
    conn = mapping.require_connection(session, org_id=org_id)
    view: dict[str, Any] = {
        "realm_id": conn.realm_id,
        "company_name": conn.company_name,
        "saved": mapping.saved(conn),
        "notes": mapping.notes(conn),
        "suggested_post_from": mapping.today_for(session, org_id),
        "choices": None,
        "catalog_items": item_mappings.listed(session, org_id=org_id, realm_id=conn.realm_id),
    }
    if live:
        session.commit()  # no transaction open while QuickBooks answers
        view["choices"] = mapping.choices(org_id, page=True)
    return QuickBooksMapping.model_validate(view)


@router.get("/mapping", responses=errors(ROLE, QBO_CONNECTION, QBO))
def get_mapping(session: SessionDep, user: AdminUser) -> QuickBooksMapping:
    """The saved mapping and the company's live choices, with a suggestion per field."""
    return _view(session, user.org_id, live=True)


@router.put("/mapping", responses=errors(ROLE, BODY, QBO_CONNECTION, QBO, MAPPING))
def put_mapping(body: MappingBody, session: SessionDep, user: AdminUser) -> QuickBooksMapping:
    """Check every id against the live company, save, and resume the waiting postings."""
    mapping.save(session, org_id=user.org_id, body=body, actor=Actor.of(user))
    return _view(session, user.org_id, live=False)


def posting_item(posting: QuickBooksPosting, number: str | None) -> PostingListItem:
    return PostingListItem.model_validate(
        {
            **(postings.describe(posting) or {}),
            "invoice_id": posting.invoice_id,
            "invoice_number": number,
        }
    )


@router.get("/postings", responses=errors(ROLE, PARAMS))
def list_postings(
    session: SessionDep,
    user: AdminUser,
    state: PostingState | None = None,
    kind: PostingKind | None = None,
    invoice_id: uuid.UUID | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[PostingListItem]:
    """The org's postings, newest first, by state, kind or invoice."""
    stmt = select(QuickBooksPosting).where(QuickBooksPosting.org_id == user.org_id)
    if state is not None:
        stmt = stmt.where(QuickBooksPosting.state == state.value)
    if kind is not None:
        stmt = stmt.where(QuickBooksPosting.kind == kind.value)
    if invoice_id is not None:
        stmt = stmt.where(QuickBooksPosting.invoice_id == invoice_id)
    page = paginate(session, stmt, QuickBooksPosting.id, limit=limit, cursor=cursor)
    numbers = invoice_numbers(session, user.org_id, {p.invoice_id for p in page.items})
    return Page[PostingListItem](
        items=[posting_item(p, numbers.get(p.invoice_id)) for p in page.items],
        next_cursor=page.next_cursor,
    )


def invoice_numbers(
    session: Session, org_id: uuid.UUID, ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Invoice.id, Invoice.number).where(Invoice.org_id == org_id, Invoice.id.in_(ids))
    )
    return {row.id: row.number for row in rows}


@router.post("/postings/{posting_id}/retry", responses=errors(ROLE, FOUND, PARAMS, CONFLICT))
def retry_posting(posting_id: uuid.UUID, session: SessionDep, user: AdminUser) -> PostingListItem:
    """A failed posting again (pending, with a new `requestid`), or a waiting one now;
    409 for one already posted or skipped."""
    posting = postings.retry(
        session, org_id=user.org_id, posting_id=posting_id, actor=Actor.of(user)
    )
    numbers = invoice_numbers(session, user.org_id, {posting.invoice_id})
    return posting_item(posting, numbers.get(posting.invoice_id))


def invoice_postings(
    session: Session, *, org_id: uuid.UUID, invoice_id: uuid.UUID
) -> InvoiceQuickBooks:
    """An invoice's postings by kind, for `GET /api/v1/invoices/{id}`."""
    rows = postings.for_invoice(session, org_id=org_id, invoice_id=invoice_id)
    return InvoiceQuickBooks.model_validate(
        {kind.value: postings.describe(rows.get(kind.value)) for kind in PostingKind}
    )


# ---- movement postings (refunds, disputes, payouts) ------------------------------------------


def movement_item(posting: QuickBooksMovementPosting) -> MovementPostingOut:
    return MovementPostingOut.model_validate(movements.describe(posting))


@router.get("/movement-postings", responses=errors(ROLE, PARAMS))
def list_movement_postings(
    session: SessionDep,
    user: AdminUser,
    state: PostingState | None = None,
    kind: MovementKind | None = None,
    subject_id: uuid.UUID | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[MovementPostingOut]:
    """The org's refund, dispute and payout postings, newest first, by state, kind or
    subject (a refund's, dispute's or payout's id)."""
    M = QuickBooksMovementPosting
    stmt = select(M).where(M.org_id == user.org_id)
    if state is not None:
        stmt = stmt.where(M.state == state.value)
    if kind is not None:
        stmt = stmt.where(M.kind == kind.value)
    if subject_id is not None:
        stmt = stmt.where(M.subject_id == subject_id)
    page = paginate(session, stmt, M.id, limit=limit, cursor=cursor)
    return Page[MovementPostingOut](
        items=[movement_item(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/movement-postings/{posting_id}/retry", responses=errors(ROLE, FOUND, PARAMS, CONFLICT)
)
def retry_movement_posting(
    posting_id: uuid.UUID, session: SessionDep, user: AdminUser
) -> MovementPostingOut:
    """A failed refund, dispute or payout posting again (pending, with a new `requestid`), or
    a waiting one now; 409 for one already posted or skipped."""
    posting = movements.retry(
        session, org_id=user.org_id, posting_id=posting_id, actor=Actor.of(user)
    )
    return movement_item(posting)
