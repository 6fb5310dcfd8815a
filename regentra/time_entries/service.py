"""Time entries and their approval workflow.

draft → submitted → approved | rejected; rejected entries are edited and resubmitted; a
submitted entry can be recalled to draft by its technician until it is decided; an approved
entry can be un-approved until an invoice bills it, after which it never changes.
Every transition is one conditional UPDATE, so a race or a double click applies it once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.catalog import service as catalog
from regentra.clients.service import clients
from regentra.errors import Conflict, Forbidden, Invalid, NotFound, RegentraError
from regentra.kit.pagination import Page, paginate
from regentra.kit.time import today_in, utcnow
from regentra.models import EntryStatus, Org, Role, Ticket, TicketStatus, TimeEntry, User
from regentra.orgs.repository import OrgScopedRepository
from regentra.orgs.service import users
from regentra.tickets.errors import TicketClosed, UnknownTicket
from regentra.tickets.service import tickets
from regentra.time_entries.errors import (
    EntryInvoiced,
    EntryNotEditable,
    IllegalTransition,
    SelfApproval,
    UnknownTechnician,
)
from regentra.time_entries.schemas import TimeEntryCreate, TimeEntryUpdate

entries = OrgScopedRepository(TimeEntry, "time entry")

EDITABLE = (EntryStatus.draft, EntryStatus.rejected)
RATE_SETTERS = (Role.admin, Role.approver)
APPROVERS = (Role.admin, Role.approver)


def _sees_all(user: User) -> bool:
    return user.has_role(Role.admin, Role.approver)


def get(session: Session, *, user: User, entry_id: uuid.UUID) -> TimeEntry:
    """An entry the user may see: technicians see only their own."""
    entry = entries.find(session, org_id=user.org_id, id=entry_id)
    if entry is None or (not _sees_all(user) and entry.technician_id != user.id):
        raise NotFound("time entry not found")
    return entry


def _open_ticket(session: Session, *, org_id: uuid.UUID, ticket_id: uuid.UUID) -> Ticket:
    ticket = tickets.find(session, org_id=org_id, id=ticket_id)
    if ticket is None:
        raise UnknownTicket("ticket_id does not match any ticket")
    if ticket.status != TicketStatus.open.value:
        raise TicketClosed("the ticket is closed: reopen it to log time")
    return ticket


def _check_work_date(org: Org, work_date: date) -> None:
    if work_date > today_in(org.timezone) + timedelta(days=1):
        raise Invalid("work_date cannot be in the future")
    if work_date < date(2000, 1, 1):
        raise Invalid("work_date is too far in the past")


def default_rate(session: Session, *, org: Org, client_id: uuid.UUID) -> int:
    client = clients.get(session, org_id=org.id, id=client_id)
    return client.hourly_rate if client.hourly_rate is not None else org.default_hourly_rate


def create(session: Session, *, org: Org, user: User, data: TimeEntryCreate) -> TimeEntry:
    technician_id = data.technician_id or user.id
    if technician_id != user.id:
        if not user.has_role(Role.admin):
            raise Forbidden("only admins can log time for another technician")
        if users.find(session, org_id=org.id, id=technician_id) is None:
            raise UnknownTechnician("technician_id does not match any user")
    if data.hourly_rate is not None and not user.has_role(*RATE_SETTERS):
        raise Forbidden("only admins and approvers can set an hourly rate")
    ticket = _open_ticket(session, org_id=org.id, ticket_id=data.ticket_id)
    _check_work_date(org, data.work_date)
    client = clients.get(session, org_id=org.id, id=ticket.client_id)
    rate = data.hourly_rate
    if data.catalog_item_id is not None:
        if rate is not None:
            raise Invalid("give either hourly_rate or catalog_item_id, not both")
        rate = _catalog_rate(
            session, org=org, item_id=data.catalog_item_id, currency=client.currency
        )
    if rate is None:
        rate = client.hourly_rate if client.hourly_rate is not None else org.default_hourly_rate
    entry = TimeEntry(
        org_id=org.id,
        ticket_id=ticket.id,
        client_id=client.id,
        technician_id=technician_id,
        work_date=data.work_date,
        minutes=data.minutes,
        description=data.description.strip(),
        billable=data.billable,
        hourly_rate=rate,
        catalog_item_id=data.catalog_item_id,
        currency=client.currency,
        status=EntryStatus.draft.value,
    )
    session.add(entry)
    session.flush()
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="time_entry.created",
        subject_type="time_entry",
        subject_id=entry.id,
        details={
            "minutes": entry.minutes,
            "ticket_id": str(ticket.id),
            "billable": entry.billable,
            **({"catalog_item_id": str(entry.catalog_item_id)} if entry.catalog_item_id else {}),
        },
    )
    return entry


def _catalog_rate(session: Session, *, org: Org, item_id: uuid.UUID, currency: str) -> int:
    """The hourly rate copied from a catalog item (active, one-time, client's currency)."""
    item = catalog.rate_from_item(session, org_id=org.id, item_id=item_id, currency=currency)
    assert item.unit_amount is not None  # rate_from_item refuses items without an amount
    return item.unit_amount


PAST = {
    "submit": "submitted",
    "recall": "recalled",
    "approve": "approved",
    "reject": "rejected",
    "un-approve": "un-approved",
}


def _explain_refusal(session: Session, entry: TimeEntry, verb: str, allowed: str) -> Conflict:
    session.refresh(entry)
    if entry.invoice_id is not None:
        return EntryInvoiced()
    return IllegalTransition(
        f"cannot {verb} an entry that is {entry.status}: only {allowed} entries can be "
        f"{PAST.get(verb, verb)}"
    )


def _conditional_update(
    session: Session,
    entry: TimeEntry,
    *,
    from_states: tuple[EntryStatus, ...],
    values: dict[str, Any],
    extra_where: tuple[Any, ...] = (),
) -> bool:
    result = session.execute(
        update(TimeEntry)
        .where(
            TimeEntry.id == entry.id,
            TimeEntry.org_id == entry.org_id,
            TimeEntry.status.in_([s.value for s in from_states]),
            TimeEntry.invoice_id.is_(None),
            *extra_where,
        )
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    session.refresh(entry)
    return True


def edit(
    session: Session, *, org: Org, user: User, entry_id: uuid.UUID, data: TimeEntryUpdate
) -> TimeEntry:
    entry = get(session, user=user, entry_id=entry_id)
    if entry.technician_id != user.id and not user.has_role(Role.admin):
        raise Forbidden("only the technician who logged this entry (or an admin) can edit it")
    changes = data.model_dump(exclude_unset=True)
    for name in ("ticket_id", "work_date", "minutes", "billable", "description"):
        if name in changes and changes[name] is None:
            raise Invalid(f"{name} cannot be null")
    if (
        changes.get("hourly_rate") is not None
        and changes["hourly_rate"] == entry.hourly_rate
        and "catalog_item_id" not in changes
    ):
        del changes["hourly_rate"]  # the same rate again keeps the catalog item it came from
    item_id = changes.get("catalog_item_id")
    if item_id is not None and changes.get("hourly_rate") is not None:
        raise Invalid("give either hourly_rate or catalog_item_id, not both")
    if "hourly_rate" in changes:
        if not user.has_role(*RATE_SETTERS):
            raise Forbidden("only admins and approvers can set an hourly rate")
        if item_id is None:
            changes["catalog_item_id"] = None  # a typed rate replaces a catalog item's
        if changes["hourly_rate"] is None:
            changes["hourly_rate"] = default_rate(session, org=org, client_id=entry.client_id)
    elif "catalog_item_id" in changes and item_id is None:
        # The item is removed: back to the client's (or the org's) rate.
        changes["hourly_rate"] = default_rate(session, org=org, client_id=entry.client_id)
    currency = entry.currency
    if "ticket_id" in changes and changes["ticket_id"] != entry.ticket_id:
        ticket = _open_ticket(session, org_id=org.id, ticket_id=changes["ticket_id"])
        if ticket.client_id != entry.client_id:
            client = clients.get(session, org_id=org.id, id=ticket.client_id)
            changes["client_id"] = client.id
            changes["currency"] = currency = client.currency
            if "hourly_rate" not in changes:
                if entry.catalog_item_id is not None and "catalog_item_id" not in changes:
                    item_id = changes["catalog_item_id"] = entry.catalog_item_id
                if item_id is None:
                    changes["hourly_rate"] = default_rate(session, org=org, client_id=client.id)
    if item_id is not None:
        changes["hourly_rate"] = _catalog_rate(session, org=org, item_id=item_id, currency=currency)
    if "work_date" in changes:
        _check_work_date(org, changes["work_date"])
    if "description" in changes:
        changes["description"] = changes["description"].strip()
    if entry.invoice_id is not None:
        raise EntryInvoiced()
    if not changes:
        return entry
    if not _conditional_update(session, entry, from_states=EDITABLE, values=changes):
        session.refresh(entry)
        if entry.invoice_id is not None:
            raise EntryInvoiced()
        raise EntryNotEditable(
            f"this entry is {entry.status}: only draft or rejected entries can be edited"
        )
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="time_entry.updated",
        subject_type="time_entry",
        subject_id=entry.id,
        details={"changed": sorted(changes)},
    )
    return entry


def _transition(
    session: Session,
    *,
    user: User,
    entry: TimeEntry,
    from_states: tuple[EntryStatus, ...],
    to: EntryStatus,
    action: str,
    verb: str,
    values: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> TimeEntry:
    allowed = " or ".join(s.value for s in from_states)
    ok = _conditional_update(
        session, entry, from_states=from_states, values={"status": to.value, **(values or {})}
    )
    if not ok:
        raise _explain_refusal(session, entry, verb, allowed)
    record(
        session,
        org_id=entry.org_id,
        actor=Actor.of(user),
        action=action,
        subject_type="time_entry",
        subject_id=entry.id,
        details=details or {},
    )
    return entry


def submit(session: Session, *, user: User, entry_id: uuid.UUID) -> TimeEntry:
    entry = get(session, user=user, entry_id=entry_id)
    if entry.technician_id != user.id and not user.has_role(Role.admin):
        raise Forbidden("only the technician who logged this entry (or an admin) can submit it")
    return _transition(
        session,
        user=user,
        entry=entry,
        from_states=EDITABLE,
        to=EntryStatus.submitted,
        action="time_entry.submitted",
        verb="submit",
        values={"submitted_at": utcnow()},
    )


def recall(session: Session, *, user: User, entry_id: uuid.UUID) -> TimeEntry:
    """Take a submitted entry back to draft (to correct it) before an approver decides."""
    entry = get(session, user=user, entry_id=entry_id)
    if entry.technician_id != user.id and not user.has_role(Role.admin):
        raise Forbidden("only the technician who logged this entry (or an admin) can recall it")
    return _transition(
        session,
        user=user,
        entry=entry,
        from_states=(EntryStatus.submitted,),
        to=EntryStatus.draft,
        action="time_entry.recalled",
        verb="recall",
        values={"submitted_at": None},
    )


def _require_approver(org: Org, user: User, entry: TimeEntry, verb: str) -> None:
    if not user.has_role(*APPROVERS):
        raise Forbidden(f"only approvers and admins can {verb} time")
    if entry.technician_id == user.id and not org.allow_self_approval:
        raise SelfApproval(
            f"you cannot {verb} your own time: ask another approver "
            "(an admin can allow self-approval in the org settings)"
        )


def approve(session: Session, *, org: Org, user: User, entry_id: uuid.UUID) -> TimeEntry:
    if not user.has_role(*APPROVERS):
        raise Forbidden("only approvers and admins can approve time")
    entry = get(session, user=user, entry_id=entry_id)
    _require_approver(org, user, entry, "approve")
    return _transition(
        session,
        user=user,
        entry=entry,
        from_states=(EntryStatus.submitted,),
        to=EntryStatus.approved,
        action="time_entry.approved",
        verb="approve",
        values={"decided_by_id": user.id, "decided_at": utcnow(), "rejection_reason": None},
    )


def reject(
    session: Session, *, org: Org, user: User, entry_id: uuid.UUID, reason: str
) -> TimeEntry:
    if not user.has_role(*APPROVERS):
        raise Forbidden("only approvers and admins can reject time")
    reason = reason.strip()
    if not reason:
        raise Invalid("a reason is required to reject time")
    entry = get(session, user=user, entry_id=entry_id)
    _require_approver(org, user, entry, "reject")
    return _transition(
        session,
        user=user,
        entry=entry,
        from_states=(EntryStatus.submitted,),
        to=EntryStatus.rejected,
        action="time_entry.rejected",
        verb="reject",
        values={"decided_by_id": user.id, "decided_at": utcnow(), "rejection_reason": reason},
        details={"reason": reason},
    )


def unapprove(session: Session, *, org: Org, user: User, entry_id: uuid.UUID) -> TimeEntry:
    if not user.has_role(*APPROVERS):
        raise Forbidden("only approvers and admins can un-approve time")
    entry = get(session, user=user, entry_id=entry_id)
    _require_approver(org, user, entry, "un-approve")
    return _transition(
        session,
        user=user,
        entry=entry,
        from_states=(EntryStatus.approved,),
        to=EntryStatus.submitted,
        action="time_entry.unapproved",
        verb="un-approve",
        values={"decided_by_id": None, "decided_at": None},
    )


@dataclass
class BulkResult:
    approved: list[TimeEntry] = field(default_factory=list)
    failed: list[tuple[uuid.UUID, RegentraError]] = field(default_factory=list)


def bulk_approve(
    session: Session, *, org: Org, user: User, entry_ids: list[uuid.UUID]
) -> BulkResult:
    if not user.has_role(*APPROVERS):
        raise Forbidden("only approvers and admins can approve time")
    result = BulkResult()
    for entry_id in dict.fromkeys(entry_ids):
        try:
            result.approved.append(approve(session, org=org, user=user, entry_id=entry_id))
        except RegentraError as exc:  # each refusal writes nothing; report it and go on
            result.failed.append((entry_id, exc))
    return result


def list_entries(
    session: Session,
    *,
    user: User,
    status: str | None = None,
    technician_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    ticket_id: uuid.UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[TimeEntry]:
    stmt = entries.select(user.org_id)
    if not _sees_all(user):
        stmt = stmt.where(TimeEntry.technician_id == user.id)
    if status is not None:
        valid = {s.value for s in EntryStatus}
        if status not in valid:
            raise Invalid(f"status must be one of: {', '.join(sorted(valid))}")
        stmt = stmt.where(TimeEntry.status == status)
    if technician_id is not None:
        stmt = stmt.where(TimeEntry.technician_id == technician_id)
    if client_id is not None:
        stmt = stmt.where(TimeEntry.client_id == client_id)
    if ticket_id is not None:
        stmt = stmt.where(TimeEntry.ticket_id == ticket_id)
    if date_from is not None:
        stmt = stmt.where(TimeEntry.work_date >= date_from)
    if date_to is not None:
        stmt = stmt.where(TimeEntry.work_date <= date_to)
    if date_from and date_to and date_from > date_to:
        raise Invalid("date_from must not be after date_to")
    return paginate(session, stmt, TimeEntry.id, limit=limit, cursor=cursor)
