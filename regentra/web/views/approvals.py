"""Approvals: submitted time of the org grouped by technician and week with totals,
approved one by one, a week at a time or in bulk (a partial bulk result is reported as
such), rejected with a reason; an approver's own entries are shown but not actionable
unless the org allows self-approval. Recently approved entries can be un-approved until
they are invoiced."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from regentra.errors import Invalid, RegentraError
from regentra.http.deps import SessionDep
from regentra.time_entries import service
from regentra.time_entries.week import by_technician_and_week
from regentra.web import queries
from regentra.web.auth import Account, ApproverPage
from regentra.web.forms import FormDep, parse_id, text, texts
from regentra.web.templating import redirect, render

router = APIRouter(prefix="/approvals")

RECENT = 20
MAX_BULK = 200


def _page(
    request: Request,
    session: Session,
    account: Account,
    *,
    error: str | None = None,
    reject_id: str = "",
    reason: str = "",
    code: int = 200,
) -> Response:
    user = account.user
    pending = service.list_entries(session, user=user, status="submitted", limit=MAX_BULK)
    approved = service.list_entries(session, user=user, status="approved", limit=RECENT).items
    recent = [e for e in approved if e.invoice_id is None]
    ticket_ids = [e.ticket_id for e in pending.items + recent]
    names = queries.names_for(
        session, org_id=account.org.id, ticket_ids=ticket_ids, with_users=True
    )
    groups = by_technician_and_week(list(pending.items))
    groups.sort(key=lambda g: (names.user(g.technician_id).casefold(), str(g.technician_id)))
    context = {
        "title": "Approvals",
        "pending": pending.items,
        "groups": groups,
        # Entries this approver may act on (their own only when the org allows it).
        "selectable": any(
            e.technician_id != user.id or account.org.allow_self_approval for e in pending.items
        ),
        "more_pending": pending.next_cursor is not None,
        "recent": recent,
        "names": names,
        "self_approval": account.org.allow_self_approval,
        "me": user.id,
        "reject_id": reject_id,
        "reason": reason,
        "error": error,
    }
    return render(request, "approvals/list.html", context, status=code)


@router.get("")
def approvals(request: Request, session: SessionDep, account: ApproverPage) -> Response:
    return _page(request, session, account)


@router.post("/bulk-approve")
def bulk_approve(
    request: Request, session: SessionDep, account: ApproverPage, form: FormDep
) -> Response:
    try:
        raw_ids = texts(form, "ids")
        if not raw_ids:
            raise Invalid("Select at least one entry to approve.")
        if len(raw_ids) > MAX_BULK:
            raise Invalid(f"Approve at most {MAX_BULK} entries at once.")
        ids = [parse_id(raw, "time entry") for raw in raw_ids]
    except RegentraError as exc:
        return _page(request, session, account, error=exc.message, code=exc.status)
    result = service.bulk_approve(session, org=account.org, user=account.user, entry_ids=ids)
    done, failed = len(result.approved), len(result.failed)
    if not failed:
        return redirect(
            "/approvals", success=f"Approved {done} {'entry' if done == 1 else 'entries'}."
        )
    reasons = "; ".join(sorted({exc.message for _, exc in result.failed}))
    if not done:
        noun = "entry" if failed == 1 else "entries"
        return redirect(
            "/approvals", error=f"None of the {failed} {noun} could be approved: {reasons}"
        )
    # Done in part: what was approved stays approved, and the rest is said, with why.
    message = f"Approved {done} of {done + failed}; {failed} could not be: {reasons}"
    return redirect("/approvals", warning=message)


@router.post("/{entry_id}/approve")
def approve(
    request: Request, entry_id: uuid.UUID, session: SessionDep, account: ApproverPage
) -> Response:
    try:
        service.approve(session, org=account.org, user=account.user, entry_id=entry_id)
    except RegentraError as exc:
        session.rollback()
        return _page(request, session, account, error=exc.message, code=exc.status)
    return redirect("/approvals", success="Entry approved.")


@router.post("/{entry_id}/reject")
def reject(
    request: Request,
    entry_id: uuid.UUID,
    session: SessionDep,
    account: ApproverPage,
    form: FormDep,
) -> Response:
    reason = text(form, "reason")
    try:
        if len(reason) > 1000:
            raise Invalid("Keep the reason under 1000 characters.")
        service.reject(
            session, org=account.org, user=account.user, entry_id=entry_id, reason=reason
        )
    except RegentraError as exc:
        session.rollback()
        return _page(
            request,
            session,
            account,
            error=exc.message,
            reject_id=str(entry_id),
            reason=reason,
            code=exc.status,
        )
    return redirect("/approvals", success="Entry rejected; the technician will see your reason.")


@router.post("/{entry_id}/unapprove")
def unapprove(
    request: Request, entry_id: uuid.UUID, session: SessionDep, account: ApproverPage
) -> Response:
    try:
        service.unapprove(session, org=account.org, user=account.user, entry_id=entry_id)
    except RegentraError as exc:
        session.rollback()
        return _page(request, session, account, error=exc.message, code=exc.status)
    return redirect("/approvals", success="Entry un-approved; it is back in the queue.")
