"""Month-end invoice runs (see `regentra.models.invoice_run`).

A run for a period lists every client with approved, billable, uninvoiced time in it (its
entries, hours and amount, as generating would bill them); **generate** makes one draft per
ticked client with `invoices.service.generate` (so an entry is billed once however runs and
single invoices race: a client whose time was billed meanwhile is marked "nothing left");
**send** queues the drafts and a background job (`tasks.send_run`) sends them one by one with
`integrations.stripe.sending.send`, each item keeping its result. Sending is idempotent per
invoice, so a run can be left and resumed, a failed item retried, and sending twice sends
nothing twice.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from regentra import queue
from regentra.agreements import billing as agreement_billing
from regentra.audit.service import Actor, record
from regentra.billing import service as billing
from regentra.billing.errors import SubscriptionRequired
from regentra.clients.service import clients
from regentra.config import get_settings
from regentra.errors import Conflict, Invalid, NotFound, RegentraError
from regentra.invoices import service as invoices
from regentra.invoices.errors import NothingToInvoice
from regentra.invoices.schemas import InvoiceCreate
from regentra.invoices.transitions import org_today
from regentra.kit.ids import new_id
from regentra.kit.pagination import Page, paginate
from regentra.kit.time import utcnow
from regentra.models import (
    Invoice,
    InvoiceRun,
    InvoiceRunItem,
    InvoiceStatus,
    Org,
    RunItemState,
    RunStatus,
    User,
)

log = structlog.get_logger(__name__)

SEND_TASK = "invoice_runs.send"
MAX_CLIENTS = 5000  # clients one run lists
# An item whose sending was refused (the org's Regentra subscription does not allow sending:
# canceled, or the trial is over) says so first, then why: `failed` with a reason that no
# retry fixes until the subscription does.
REFUSED = "Refused: "

S = RunItemState


class NothingToRun(Conflict):
    """No client has approved, billable, uninvoiced time in the period."""

    code = "nothing_to_invoice"


class RunBusy(Conflict):
    """The run is in a state that does not allow this (e.g. generating while it sends)."""

    code = "run_busy"


def last_month(org: Org) -> tuple[date, date]:
    """The org's previous calendar month (its time zone)."""
    first = org_today(org).replace(day=1)
    end = first - timedelta(days=1)
    return end.replace(day=1), end


def month(period: str) -> tuple[date, date]:
    """'2026-11' → (2026-11-01, 2026-11-30); anything else is refused in words."""
    try:
        year, number = (int(part) for part in period.split("-"))
        start = date(year, number, 1)
    except ValueError:
        raise Invalid(f"period must be a month as YYYY-MM, e.g. 2026-11, not '{period}'") from None
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start, following - timedelta(days=1)


# ---- making a run ----------------------------------------------------------------------------


def create(
    session: Session, *, org: Org, user: User, period_start: date, period_end: date
) -> InvoiceRun:
    """A run listing every client with approved, billable, uninvoiced time in the period."""
    if period_start > period_end:
        raise Invalid("period_start must not be after period_end")
    if period_end > org_today(org):
        raise Invalid("The period cannot end in the future: bill a period that is over")
    found = _with_agreements(
        session,
        org,
        invoices.unbilled(session, org_id=org.id, period_start=period_start, period_end=period_end),
        period_start=period_start,
        period_end=period_end,
    )
    if not found:
        raise NothingToRun(
            f"No client has approved, billable, uninvoiced time from {period_start} to "
            f"{period_end}, nor an agreement period to bill: approve time first, or choose "
            "another period"
        )
    if len(found) > MAX_CLIENTS:
        raise Invalid(f"A run lists at most {MAX_CLIENTS} clients: choose a shorter period")
    run = InvoiceRun(
        id=new_id(),
        org_id=org.id,
        period_start=period_start,
        period_end=period_end,
        status=RunStatus.review.value,
        created_by_id=user.id,
    )
    session.add(run)
    session.flush()
    for position, item in enumerate(found, start=1):
        separate = item.separate if isinstance(item, Separate) else None
        session.add(
            InvoiceRunItem(
                id=new_id(),
                org_id=org.id,
                run_id=run.id,
                position=position,
                client_id=item.client_id,
                client_name=item.name[:200],
                agreement_id=separate,
                slot=str(separate) if separate else "",
                currency=item.currency,
                entries=item.entries,
                minutes=item.minutes,
                amount=item.amount,
            )
        )
    session.flush()
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice_run.created",
        subject_type="invoice_run",
        subject_id=run.id,
        details={
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
            "clients": len(found),
        },
    )
    return run


def _with_agreements(
    session: Session,
    org: Org,
    found: list[invoices.Unbilled],
    *,
    period_start: date,
    period_end: date,
) -> list[invoices.Unbilled]:
    """`found` (each client's unbilled time of the period) as generating will bill it under
    the clients' agreements: time less what included hours cover, plus every agreement period
    the run bills; clients with only an agreement to bill join the list, and an agreement
    billed on its own invoice is an item of its own (a `Separate`)."""
    by = {u.client_id: u for u in found}
    separate: list[invoices.Unbilled] = []
    for client_id in agreement_billing.clients_with_agreements(session, org_id=org.id):
        client = clients.get(session, org_id=org.id, id=client_id)
        item = by.get(client_id)
        if item is not None:  # its time, covered by included hours where they apply
            lines = invoices.preview(
                session,
                org=org,
                client_id=client_id,
                period_start=period_start,
                period_end=period_end,
            ).lines
            billed = agreement_billing.cover_all(
                session,
                org_id=org.id,
                client_id=client_id,
                entries=[(x.work_date, x.minutes, x.hourly_rate) for x in lines],
                currency=client.currency,
            )
            item.amount = sum(b.amount for b in billed)
        charges = agreement_billing.due_charges(
            session,
            org_id=org.id,
            client_id=client_id,
            currency=client.currency,
            through=period_end,
        )
        if charges:
            if item is None:
                item = by[client_id] = invoices.Unbilled(client_id, client.name, client.currency)
            item.amount += sum(c.total for c in charges)
        for agreement in agreement_billing.agreements_of(
            session, org_id=org.id, client_id=client_id
        ):
            if not agreement.separate_invoice:
                continue
            own = agreement_billing.due_charges(
                session,
                org_id=org.id,
                client_id=client_id,
                currency=client.currency,
                through=period_end,
                separate=agreement.id,
            )
            if own:
                separate.append(
                    Separate(
                        client_id,
                        f"{client.name} · {agreement.name}",
                        client.currency,
                        amount=sum(c.total for c in own),
                        separate=agreement.id,
                    )
                )
    return sorted([*by.values(), *separate], key=lambda u: (u.name.lower(), str(u.client_id)))


@dataclass
class Separate(invoices.Unbilled):
    """An agreement billed on an invoice of its own, listed as an item of its own."""

    separate: uuid.UUID | None = None


def get(
    session: Session, *, org_id: uuid.UUID, run_id: uuid.UUID, lock: bool = False
) -> InvoiceRun:
    stmt = select(InvoiceRun).where(InvoiceRun.org_id == org_id, InvoiceRun.id == run_id)
    if lock:
        stmt = stmt.with_for_update()
    run = session.scalars(stmt).one_or_none()
    if run is None:
        raise NotFound("invoice run not found")
    return run


def items_of(session: Session, run: InvoiceRun) -> list[InvoiceRunItem]:
    return list(
        session.scalars(
            select(InvoiceRunItem)
            .where(InvoiceRunItem.org_id == run.org_id, InvoiceRunItem.run_id == run.id)
            .order_by(InvoiceRunItem.position)
        )
    )


def list_runs(
    session: Session, *, org_id: uuid.UUID, limit: int | None = None, cursor: str | None = None
) -> Page[InvoiceRun]:
    stmt = select(InvoiceRun).where(InvoiceRun.org_id == org_id)
    return paginate(session, stmt, InvoiceRun.id, limit=limit, cursor=cursor)


# ---- generating ------------------------------------------------------------------------------


def tick_key(item: InvoiceRunItem) -> uuid.UUID:
    """What ticks an item: its client's id, or for an agreement billed on its own invoice,
    the agreement's id (so the client's invoice and that one are ticked apart)."""
    return item.agreement_id or item.client_id


def generate(
    session: Session,
    *,
    org: Org,
    user: User,
    run_id: uuid.UUID,
    client_ids: list[uuid.UUID] | None = None,
    progress: Callable[[InvoiceRunItem], None] | None = None,
) -> InvoiceRun:
    """One draft per ticked client (`client_ids`: the ticked ones, by `tick_key`; default
    every listed client), each in its own savepoint: a client whose time was billed meanwhile
    is marked "nothing left", one that fails keeps its reason; the others go on. Running it
    again makes only the drafts still missing."""
    run = get(session, org_id=org.id, run_id=run_id, lock=True)
    if run.status not in (RunStatus.review.value, RunStatus.generated.value):
        raise RunBusy(f"This run is {run.status}: its drafts were already made and sent")
    items = items_of(session, run)
    if client_ids is not None:
        unknown = set(client_ids) - {tick_key(i) for i in items}
        if unknown:
            raise Invalid(
                f"{len(unknown)} of the clients given are not in this run (it lists the clients "
                "with approved, uninvoiced time or an agreement to bill in its period)"
            )
        ticked = set(client_ids)
        for item in items:
            if item.state in (S.listed.value, S.excluded.value):
                item.included = tick_key(item) in ticked
                item.state = S.listed.value if item.included else S.excluded.value
    data = {"period_start": run.period_start, "period_end": run.period_end}
    made = 0
    for item in items:
        if item.state != S.listed.value:
            continue
        try:
            with session.begin_nested():
                invoice = invoices.generate(
                    session,
                    org=org,
                    user=user,
                    data=InvoiceCreate(client_id=item.client_id, **data),
                    agreements_through=run.period_end,
                    separate_agreement=item.agreement_id,
                )
        except NothingToInvoice:
            item.state, item.error = S.nothing.value, "nothing left to bill: billed meanwhile"
        except RegentraError as exc:
            item.state, item.error = S.failed.value, exc.message
        else:
            item.state, item.invoice_id, item.error = S.draft.value, invoice.id, None
            made += 1
        if progress is not None:
            progress(item)
    run.status = RunStatus.generated.value
    session.flush()
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice_run.generated",
        subject_type="invoice_run",
        subject_id=run.id,
        details={"drafts": made},
    )
    return run


# ---- sending ---------------------------------------------------------------------------------


def request_send(
    session: Session, *, org: Org, user: User, run_id: uuid.UUID, enqueue: bool = True
) -> InvoiceRun:
    """Queue the run's drafts (and the ones that failed to send) and enqueue the send job
    (`enqueue=False`: the caller sends them itself with `send_all`, as the CLI does).
    Asking again while it sends enqueues the job again (a job that died is resumed); an
    invoice is never sent twice (`sending.send` finds what an earlier attempt did)."""
    run = get(session, org_id=org.id, run_id=run_id, lock=True)
    if run.status == RunStatus.review.value:
        raise RunBusy("Generate the drafts first, review them, then send")
    queued = session.execute(
        update(InvoiceRunItem)
        .where(
            InvoiceRunItem.org_id == org.id,
            InvoiceRunItem.run_id == run.id,
            InvoiceRunItem.invoice_id.is_not(None),
            InvoiceRunItem.state.in_((S.draft.value, S.failed.value)),
        )
        .values(state=S.sending.value, error=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    pending = session.scalar(
        select(InvoiceRunItem.id)
        .where(
            InvoiceRunItem.org_id == org.id,
            InvoiceRunItem.run_id == run.id,
            InvoiceRunItem.state == S.sending.value,
        )
        .limit(1)
    )
    if pending is None:
        raise Conflict("Nothing to send: every draft of this run is sent", code="nothing_to_send")
    run.status = RunStatus.sending.value
    run.send_requested_by_id, run.send_requested_at, run.finished_at = user.id, utcnow(), None
    if enqueue:
        queue.enqueue(session, SEND_TASK, str(run.id))
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice_run.send_requested",
        subject_type="invoice_run",
        subject_id=run.id,
        details={"queued": int(getattr(queued, "rowcount", 0) or 0)},
    )
    session.flush()
    session.expire_all()
    return get(session, org_id=org.id, run_id=run.id)


def send_all(
    session_factory: Callable[[], Any],
    run_id: uuid.UUID,
    *,
    workers: int | None = None,
    on_sent: Callable[[bool], None] | None = None,
) -> int:
    """Send the run's queued drafts, `workers` at a time (default: the setting
    `invoice_run_send_workers`; each in units of work of its own,
    its item keeping its result), then mark the run done; how many were sent. Safe to run
    twice at once or again after a crash: `sending.send` sends each invoice once.
    `session_factory`: `db.session_scope`; `on_sent(ok)` after each."""
    with session_factory() as session:
        run = session.get(InvoiceRun, run_id)
        if run is None:
            return 0
        queued = list(
            session.scalars(
                select(InvoiceRunItem.id)
                .where(
                    InvoiceRunItem.org_id == run.org_id,
                    InvoiceRunItem.run_id == run.id,
                    InvoiceRunItem.state == S.sending.value,
                )
                .order_by(InvoiceRunItem.position)
            )
        )

    def one(item_id: uuid.UUID) -> bool:
        ok = _send_item(session_factory, item_id)
        if on_sent is not None:
            on_sent(ok)
        return ok

    workers = workers or get_settings().invoice_run_send_workers
    with ThreadPoolExecutor(workers, thread_name_prefix="invoice-run") as pool:
        sent = sum(pool.map(one, queued))
    with session_factory() as session:
        run = session.get(InvoiceRun, run_id)
        left = session.scalar(
            select(InvoiceRunItem.id)
            .where(InvoiceRunItem.run_id == run_id, InvoiceRunItem.state == S.sending.value)
            .limit(1)
        )
        if run is not None and run.status == RunStatus.sending.value and left is None:
            run.status, run.finished_at = RunStatus.done.value, utcnow()
    return sent


def _send_item(session_factory: Callable[[], Any], item_id: uuid.UUID) -> bool:
    """Send one queued draft through Stripe and record its result; True when sent."""
    from regentra.integrations.stripe import sending

    with session_factory() as session:
        item = session.get(InvoiceRunItem, item_id)
        run = session.get(InvoiceRun, item.run_id) if item is not None else None
        if item is None or run is None or item.state != S.sending.value:
            return False  # another job got there
        user = session.get(User, run.send_requested_by_id) if run.send_requested_by_id else None
        invoice = session.get(Invoice, item.invoice_id) if item.invoice_id else None
        org_id = run.org_id
    error: str | None = None
    if user is None or not user.is_active:
        error = "the admin who asked to send is no longer active: send the run again"
    elif invoice is None:
        error = "its draft was deleted"
    elif invoice.status == InvoiceStatus.void.value:
        error = f"invoice {invoice.number} is void"
    elif invoice.status == InvoiceStatus.draft.value:  # else sent meanwhile (on its page)
        try:
            with session_factory() as session:
                org, sender = session.get(Org, org_id), session.get(User, user.id)
                assert org is not None and sender is not None
                sending.send(session, org=org, user=sender, invoice_id=invoice.id)
        except SubscriptionRequired as exc:
            error = REFUSED + exc.message
        except RegentraError as exc:
            error = exc.message
    with session_factory() as session:
        session.execute(
            update(InvoiceRunItem)
            .where(InvoiceRunItem.id == item_id, InvoiceRunItem.state == S.sending.value)
            .values(
                state=S.failed.value if error else S.sent.value, error=error, updated_at=utcnow()
            )
            .execution_options(synchronize_session=False)
        )
    if error:
        log.info("invoice run item not sent", item_id=str(item_id), error=error)
    return error is None


def refused(item: InvoiceRunItem) -> bool:
    """Whether sending the item was refused for the org's Regentra subscription."""
    return item.state == S.failed.value and (item.error or "").startswith(REFUSED)


def progress(items: list[InvoiceRunItem]) -> dict[str, Any]:
    """Counts by state, and how far sending is (sent or failed, of what was queued); of the
    failed, how many were refused for the org's Regentra subscription."""
    counts = Counter(i.state for i in items)
    to_send = sum(counts[s] for s in (S.sending.value, S.sent.value, S.failed.value))
    done = counts[S.sent.value] + counts[S.failed.value]
    return {
        "counts": dict(counts),
        "to_send": to_send,
        "done": done,
        "refused": sum(1 for i in items if refused(i)),
    }


def describe(session: Session, run: InvoiceRun) -> dict[str, Any]:
    """A run with its items, totals and progress, as the API and the page show it."""
    items = items_of(session, run)
    numbers = dict(
        session.execute(
            select(Invoice.id, Invoice.number).where(
                Invoice.org_id == run.org_id,
                Invoice.id.in_({i.invoice_id for i in items if i.invoice_id} or {run.id}),
            )
        ).all()
    )
    totals: Counter[str] = Counter()
    minutes: Counter[str] = Counter()
    for i in items:
        if i.included:
            totals[i.currency] += i.amount
            minutes[i.currency] += i.minutes
    org = session.get(Org, run.org_id)
    allowed = billing.state(session, org) if org is not None else None
    return {
        "id": run.id,
        "period_start": run.period_start,
        "period_end": run.period_end,
        "status": run.status,
        "created_at": run.created_at,
        "send_requested_at": run.send_requested_at,
        "finished_at": run.finished_at,
        "totals": [
            {"currency": c, "amount": a, "minutes": minutes[c]} for c, a in sorted(totals.items())
        ],
        "minutes": sum(i.minutes for i in items if i.included),
        "progress": progress(items),
        "send_refused": allowed.reason if allowed is not None and not allowed.can_send else None,
        "items": [
            {
                "client_id": i.client_id,
                "client_name": i.client_name,
                "agreement_id": i.agreement_id,
                "currency": i.currency,
                "entries": i.entries,
                "minutes": i.minutes,
                "amount": i.amount,
                "included": i.included,
                "state": i.state,
                "invoice_id": i.invoice_id,
                "invoice_number": numbers.get(i.invoice_id) if i.invoice_id else None,
                "error": i.error,
                "refused": refused(i),
            }
            for i in items
        ],
    }
