"""Hourly, self-healing reconciliation of open invoices against Stripe.

For each org with Stripe connected: which of our `sent`/`overdue` invoices does Stripe now
have as paid (the webhook was lost, rejected, or never configured)? Those move through the
same conditional transition as the webhook (`invoices.transitions.mark_paid`, audit "payment
found by reconciliation"): events read back from the Events API go through the webhook's
own `handlers.ingest` (stored under their (org, event id), so a delivery arriving later is
a duplicate), and what Stripe has as paid is then moved directly too, which changes nothing
the events moved but heals an invoice whose event was stored before the invoice was open
here. Invoices Stripe has as `void` or `uncollectible` get an audit warning, once per
invoice and Stripe status (checked in the audit log); their status here is unchanged.

Economy (an org with 1,000 open invoices is healed in a handful of calls, never one per
invoice). A run picks the cheapest way to learn what changed:

- **Events** (the usual hourly run): `GET /v1/events` with `types[]` invoice.paid,
  invoice.voided, invoice.marked_uncollectible, `created[gte]`, 100 a page, all pages. Each
  open invoice needs events from the time it was last checked: the connection's
  `reconcile_checkpoint` (the previous successful run's start) for invoices that run saw, and
  our invoice's creation for invoices that opened since (their Stripe invoice is younger than
  our draft, so no event about it is older; this also covers a send that finished long after
  Stripe had the invoice). The window starts at the oldest of those, minus `OVERLAP` (clock
  skew between us and Stripe, and events created while the previous run was reading).
- **Lists** (the first run, or after a gap longer than Stripe keeps events, 30 days; we stop
  trusting events at `EVENTS_HORIZON`): `GET /v1/invoices` with `status` paid, void and
  uncollectible, `created[gte]` the oldest open invoice's creation minus a margin, all pages:
  three calls when little changed. With at most three open invoices, retrieving each is
  cheaper; and when the lists run longer than retrieving every open invoice would cost, the
  run stops paging and retrieves the invoices the lists have not settled.
- **Nothing**: no open invoices, no calls.

A run reads from Stripe without holding a database transaction (SQLite's write lock is
taken at BEGIN), then applies everything in one transaction that locks the org's connection
row, so two runs of one org (the hourly job and an admin's button) apply one after the other
and never write a warning twice. The checkpoint moves only after a successful run; every run,
successful or not, is recorded on the connection (`last_reconcile_at/_ok/_message`, shown on
the Stripe card). A failure (revoked key: `StripeRejected`; outage or 429 storm:
`StripeUnavailable`) still applies what was learnt before it, is recorded, and never stops
the other orgs of `reconcile_all`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.db import session_scope
from regentra.errors import Conflict, NotFound, RegentraError
from regentra.integrations.stripe import (
    connection_test,
    handlers,
    movements_reconcile,
    refunding,
    settings,
)
from regentra.integrations.stripe.amounts import amount_of
from regentra.integrations.stripe.client import (
    NOT_CONNECTED,
    OrgStripe,
    next_page_of,
)
from regentra.integrations.stripe.errors import (
    StripeInvalidRequest,
    StripeRejected,
    StripeUnavailable,
)
from regentra.invoices import service as invoicing
from regentra.invoices import transitions
from regentra.kit.time import as_utc, utcnow
from regentra.models import (
    AuditEvent,
    Invoice,
    InvoiceStatus,
    Org,
    OrgSecret,
    SecretPurpose,
    StripeConnection,
)
from regentra.orgs import secrets
from regentra.orgs.errors import StripeNotConnected

T = TypeVar("T")
log = structlog.get_logger(__name__)

PAGE_LIMIT = 100
# Events are re-read this far behind the checkpoint: clock skew between us and Stripe, and
# events created while the previous run was reading. Re-reading is harmless (idempotent).
OVERLAP = 300
# Stripe keeps events 30 days; past this, a run does not rely on them.
EVENTS_HORIZON = 25 * 86_400
# Invoice lists start this long before our oldest open invoice's creation (clock skew).
LIST_MARGIN = 3_600

EVENT_TYPES = ("invoice.paid", "invoice.voided", "invoice.marked_uncollectible")
STATUS_OF_EVENT = {
    "invoice.paid": "paid",
    "invoice.voided": "void",
    "invoice.marked_uncollectible": "uncollectible",
}
LIST_STATUSES = ("paid", "void", "uncollectible")
# Audit actions of the warnings (one per invoice and Stripe status, however we learnt it).
WARNING_ACTIONS = {
    "void": "invoice.stripe_voided",
    "uncollectible": "invoice.stripe_uncollectible",
}
WARNING_MESSAGES = {
    "void": (
        "Stripe has this invoice as void, but it is still {status} here: void it in Regentra "
        "if it was cancelled, or check the invoice in the Stripe Dashboard"
    ),
    "uncollectible": (
        "Stripe has this invoice marked uncollectible; it stays {status} here (a payment "
        "later still marks it paid)"
    ),
}


@dataclass
class Report:
    org_id: uuid.UUID
    ok: bool = True
    message: str = ""
    open_invoices: int = 0
    paid: list[str] = field(default_factory=list)  # our invoice numbers moved to paid
    warnings: list[str] = field(default_factory=list)
    stripe_calls: int = 0
    # Refunds, disputes and payouts read from Stripe's lists, and how many changed here.
    movements_read: int = 0
    movements_changed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "movements_read": self.movements_read,
            "movements_changed": self.movements_changed,
            "org_id": str(self.org_id),
            "ok": self.ok,
            "message": self.message,
            "open_invoices": self.open_invoices,
            "paid": self.paid,
            "warnings": self.warnings,
            "stripe_calls": self.stripe_calls,
        }


# ---- what Stripe says ----------------------------------------------------------------------------


class _CountingStripe(OrgStripe):
    """The org's client, counting the calls a run makes (each list page is one)."""

    calls = 0

    def call(self, fn: Callable[[Any], T], *, op: str) -> T:
        self.calls += 1
        return super().call(fn, op=op)


@dataclass
class _Found:
    """What Stripe said about one of our open invoices."""

    statuses: set[str] = field(default_factory=set)
    paid_at: datetime | None = None
    amount_paid: int | None = None
    event_id: str | None = None  # the invoice.paid event, when learnt from events

    def note(self, status: str, obj: dict[str, Any], at: int | None, event_id: Any) -> None:
        self.statuses.add(status)
        if status == "paid" and self.paid_at is None:
            self.event_id = event_id if isinstance(event_id, str) else None
            transitions = obj.get("status_transitions")
            paid_at = transitions.get("paid_at") if isinstance(transitions, dict) else None
            when = paid_at if isinstance(paid_at, int) else at
            self.paid_at = datetime.fromtimestamp(when, UTC) if when else None
            self.amount_paid = amount_of(obj, "amount_paid")  # in our minor units


@dataclass(frozen=True)
class _Open:
    id: uuid.UUID
    number: str
    status: str
    stripe_invoice_id: str
    created: int  # our invoice's creation, epoch seconds
    sent: int | None


@dataclass
class _Snapshot:
    org_name: str
    secret_key: str
    checkpoint: int | None
    invoices: dict[str, _Open]  # by Stripe invoice id


def _epoch(value: datetime | None) -> int | None:
    return int(as_utc(value).timestamp()) if value is not None else None


def _snapshot(org_id: uuid.UUID) -> _Snapshot:
    """The org's key, checkpoint and open invoices, read in one short transaction."""
    with session_scope() as session:
        org = session.get(Org, org_id)
        if org is None:
            raise NotFound(f"no org with id {org_id}")
        secret_key = secrets.get(
            session, org_id=org_id, purpose=SecretPurpose.stripe_secret_key.value
        )
        if not secret_key:
            raise StripeNotConnected(NOT_CONNECTED)
        conn = settings.connection(session, org_id=org_id)
        invoices = {
            str(inv.stripe_invoice_id): _Open(
                id=inv.id,
                number=inv.number,
                status=inv.status,
                stripe_invoice_id=str(inv.stripe_invoice_id),
                created=_epoch(inv.created_at) or 0,
                sent=_epoch(inv.sent_at),
            )
            for inv in invoicing.open_invoices(session, org_id=org_id)
        }
        return _Snapshot(org.name, secret_key, conn.reconcile_checkpoint, invoices)


def events_since(snapshot: _Snapshot) -> int | None:
    """Where the Events API must start so every open invoice is covered (None: nothing to
    read). An invoice the previous run saw needs events since its checkpoint; one that
    opened since needs them since our invoice's creation."""
    checkpoint = snapshot.checkpoint
    starts = []
    for inv in snapshot.invoices.values():
        seen_last_run = (
            checkpoint is not None and inv.sent is not None and inv.sent < checkpoint - OVERLAP
        )
        starts.append(checkpoint if seen_last_run and checkpoint is not None else inv.created)
    return min(starts) - OVERLAP if starts else None


class _Reader:
    """Reads what Stripe says about the open invoices into `found`, the cheapest way."""

    def __init__(self, stripe: _CountingStripe, snapshot: _Snapshot) -> None:
        self.stripe = stripe
        self.open = snapshot.invoices
        self.found: dict[str, _Found] = {}
        self.events_read: list[dict[str, Any]] = []  # about our open invoices, newest first
        self.mode = ""
        self.problems: list[str] = []

    def _note(
        self,
        stripe_id: Any,
        status: str,
        obj: dict[str, Any],
        *,
        at: Any = None,
        event_id: Any = None,
    ) -> None:
        if isinstance(stripe_id, str) and stripe_id in self.open:
            when = at if isinstance(at, int) and not isinstance(at, bool) else None
            self.found.setdefault(stripe_id, _Found()).note(status, obj, when, event_id)

    def read(self, since: int | None, now: int) -> None:
        if not self.open or since is None:
            self.mode = "nothing to check"
        elif since >= now - EVENTS_HORIZON:
            self.mode = "events"
            self.events(since)
        elif len(self.open) <= len(LIST_STATUSES):
            self.mode = "retrieve"
            self.retrieve(self.open)
        else:
            self.mode = "lists"
            self.lists()

    def events(self, since: int) -> None:
        params = {"types": list(EVENT_TYPES), "created": {"gte": since}, "limit": PAGE_LIMIT}
        for event in self.stripe.iterate(
            lambda c: c.v1.events.list(params=params), op="events.list"
        ):
            status = STATUS_OF_EVENT.get(str(event.get("type")))
            obj = (event.get("data") or {}).get("object") or {}
            if status is not None and isinstance(obj, dict) and obj.get("id") in self.open:
                self.events_read.append(event)
                self._note(
                    obj.get("id"), status, obj, at=event.get("created"), event_id=event.get("id")
                )

    def lists(self) -> None:
        """Every paid, void and uncollectible invoice created since our oldest open one; when
        paging would cost more than retrieving each open invoice, retrieve the rest."""
        oldest = min(inv.created for inv in self.open.values()) - LIST_MARGIN
        budget = self.stripe.calls + len(self.open)  # retrieving each would cost this many
        complete = all(self._list(status, oldest, budget) for status in LIST_STATUSES)
        if not complete:
            self.mode = "lists, then retrieve"
            settled = {sid for sid, f in self.found.items() if f.statuses}
            self.retrieve({sid: inv for sid, inv in self.open.items() if sid not in settled})

    def _list(self, status: str, oldest: int, budget: int) -> bool:
        """Read one status's list, page by page; False when the next page would go over the
        budget (what was read is kept)."""
        params = {"status": status, "created": {"gte": oldest}, "limit": PAGE_LIMIT}

        def first(c: Any) -> Any:
            return c.v1.invoices.list(params=params)

        fetch: Callable[[Any], Any] = first
        while True:
            if self.stripe.calls >= budget:
                return False
            page = self.stripe.call(fetch, op="invoices.list")
            for obj in page.data:
                found = obj.to_dict()
                self._note(found.get("id"), status, found)
            if not page.has_more or not page.data:
                return True
            fetch = next_page_of(page)

    def retrieve(self, invoices: dict[str, _Open]) -> None:
        for stripe_id in invoices:
            try:
                obj = self.stripe.call(_retrieve(stripe_id), op="invoices.retrieve").to_dict()
            except StripeRejected as exc:
                if not isinstance(exc, StripeInvalidRequest):
                    raise  # the key, a permission: the whole run fails
                self.problems.append(f"{invoices[stripe_id].number}: {exc.message}")
                continue
            status = obj.get("status")
            if status in LIST_STATUSES:
                self._note(stripe_id, str(status), obj)


def _retrieve(stripe_id: str) -> Callable[[Any], Any]:
    def fetch(c: Any) -> Any:
        return c.v1.invoices.retrieve(stripe_id)

    return fetch


# ---- applying it ------------------------------------------------------------------------------


def _lock_connection(session: Session, org_id: uuid.UUID) -> StripeConnection:
    """The org's connection row, locked until commit (PostgreSQL; SQLite's BEGIN IMMEDIATE
    already serializes writers): runs of one org apply one at a time."""
    settings.connection(session, org_id=org_id)
    return session.execute(
        select(StripeConnection)
        .where(StripeConnection.org_id == org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _warned(
    session: Session, org_id: uuid.UUID, invoice_ids: Iterable[uuid.UUID]
) -> set[tuple[str, str]]:
    """(invoice id, action) of the Stripe-status warnings already in the audit log."""
    ids = [str(i) for i in invoice_ids]
    if not ids:
        return set()
    rows = session.execute(
        select(AuditEvent.subject_id, AuditEvent.action).where(
            AuditEvent.org_id == org_id,
            AuditEvent.subject_type == "invoice",
            AuditEvent.subject_id.in_(ids),
            AuditEvent.action.in_(WARNING_ACTIONS.values()),
        )
    )
    return {(str(subject), str(action)) for subject, action in rows}


def _lock_open(session: Session, org_id: uuid.UUID, stripe_ids: Iterable[str]) -> set[str]:
    """Which of these Stripe invoices are still open here, their rows locked until commit
    (PostgreSQL), so a webhook racing this run waits and the report names exactly the
    invoices this run moved."""
    ids = list(stripe_ids)
    if not ids:
        return set()
    rows = session.scalars(
        select(Invoice.stripe_invoice_id)
        .where(
            Invoice.org_id == org_id,
            Invoice.stripe_invoice_id.in_(ids),
            Invoice.status.in_(invoicing.OPEN),
        )
        .with_for_update()
    )
    return {str(sid) for sid in rows}


def _apply(session: Session, org_id: uuid.UUID, reader: _Reader, report: Report) -> None:
    paid = {sid: f for sid, f in reader.found.items() if "paid" in f.statuses}
    open_before = _lock_open(session, org_id, paid)
    # Events read back go through the webhook's own path, oldest first: stored under their
    # (org, event id), so a delivery arriving later is a duplicate, then handled (an
    # invoice.paid moves the invoice, audited "payment found by reconciliation").
    for event in reversed(reader.events_read):
        handlers.ingest(session, org_id=org_id, event=event, source="reconciliation")
    # An event stored before (delivered while the invoice was not open here yet, e.g. a send
    # finished after a crash) is not handled twice: move what Stripe has as paid directly.
    # The transition is conditional, so this is a no-op for what the events just moved.
    for stripe_id in sorted(open_before):
        found = paid[stripe_id]
        transitions.mark_paid(
            session,
            org_id=org_id,
            stripe_invoice_id=stripe_id,
            paid_at=found.paid_at or utcnow(),
            amount_paid=found.amount_paid,
            source="reconciliation",
            stripe_event_id=found.event_id,
        )
    if open_before:
        moved = session.scalars(
            select(Invoice.number)
            .where(
                Invoice.org_id == org_id,
                Invoice.stripe_invoice_id.in_(open_before),
                Invoice.status == InvoiceStatus.paid.value,
            )
            .order_by(Invoice.number)
        )
        report.paid.extend(moved)
    flagged = {sid: f for sid, f in reader.found.items() if sid not in paid}
    if not flagged:
        return
    already = _warned(session, org_id, (reader.open[sid].id for sid in flagged))
    for stripe_id in sorted(flagged, key=lambda sid: reader.open[sid].number):
        for status in sorted(flagged[stripe_id].statuses & set(WARNING_ACTIONS)):
            action = WARNING_ACTIONS[status]
            if (str(reader.open[stripe_id].id), action) in already:
                continue
            invoice = invoicing.find_by_stripe_id(
                session, org_id=org_id, stripe_invoice_id=stripe_id
            )
            if invoice is None or invoice.status not in invoicing.OPEN:
                continue  # paid or voided here meanwhile: nothing to warn about
            message = WARNING_MESSAGES[status].format(status=invoice.status)
            transitions.note_stripe_event(
                session,
                invoice=invoice,
                action=action,
                message=message,
                details={"stripe_invoice_id": stripe_id, "stripe_status": status},
                source="reconciliation",
            )
            report.warnings.append(f"{invoice.number}: {message}")


def _summary(report: Report, reader: _Reader) -> str:
    found = f"{len(report.paid)} found paid" if report.paid else "none found paid"
    warned = len(report.warnings)
    parts = [
        f"Checked {report.open_invoices} open invoice{'s' if report.open_invoices != 1 else ''}"
        f" with {report.stripe_calls} Stripe call{'s' if report.stripe_calls != 1 else ''}"
        f": {found}",
        f"{warned} new warning{'s' if warned != 1 else ''}" if warned else "",
        f"{len(reader.problems)} not found in Stripe" if reader.problems else "",
    ]
    return ", ".join(p for p in parts if p) + "."


def _record(
    session: Session,
    org_id: uuid.UUID,
    report: Report,
    *,
    checkpoint: int | None,
    conn: StripeConnection | None = None,
) -> None:
    conn = conn or _lock_connection(session, org_id)
    conn.last_reconcile_at = utcnow()
    conn.last_reconcile_ok = report.ok
    conn.last_reconcile_message = connection_test.clean_message(report.message)
    if report.ok and checkpoint is not None:
        conn.reconcile_checkpoint = checkpoint


def _run(org_id: uuid.UUID) -> tuple[Report, BaseException | None]:
    """One org's run: the report and the error that failed it (None when it succeeded).
    Raises only when the org does not exist or has no Stripe key (nothing is recorded)."""
    started = int(time.time())
    snapshot = _snapshot(org_id)
    report = Report(org_id=org_id, open_invoices=len(snapshot.invoices))
    stripe = _CountingStripe(org_id=org_id, secret_key=snapshot.secret_key)
    reader = _Reader(stripe, snapshot)
    error: BaseException | None = None
    try:
        reader.read(events_since(snapshot), started)
    except RegentraError as exc:
        error = exc
        report.ok = False
        report.message = f"Reconciliation failed: {exc.message}"
    except Exception as exc:
        log.exception("stripe reconciliation failed", org_id=str(org_id))
        error = exc
        report.ok = False
        report.message = (
            f"Reconciliation failed unexpectedly ({type(exc).__name__}); the next run retries."
        )
    report.stripe_calls = stripe.calls
    report.warnings.extend(reader.problems)
    try:
        with session_scope() as session:
            conn = _lock_connection(session, org_id)
            _apply(session, org_id, reader, report)  # what was learnt, even before a failure
            if report.ok:
                report.message = _summary(report, reader)
            _record(session, org_id, report, checkpoint=started, conn=conn)
    except Exception as exc:  # the database failed: nothing applied; say so on the card
        log.exception("stripe reconciliation could not be saved", org_id=str(org_id))
        error = error or exc
        report = Report(
            org_id=org_id,
            ok=False,
            message=f"Reconciliation could not save its results ({type(exc).__name__}); "
            "the next run retries.",
            open_invoices=report.open_invoices,
            stripe_calls=report.stripe_calls,
        )
        try:
            with session_scope() as session:
                _record(session, org_id, report, checkpoint=None)
        except Exception:
            log.exception("stripe reconciliation failure could not be recorded")
    log.info(
        "stripe reconciliation",
        org_id=str(org_id),
        ok=report.ok,
        mode=reader.mode,
        open_invoices=report.open_invoices,
        paid=len(report.paid),
        warnings=len(report.warnings),
        stripe_calls=report.stripe_calls,
    )
    return report, error


def reconcile_org(org_id: uuid.UUID) -> Report:
    """Reconcile one org (opens its own sessions; commits its own work). A failure is in
    the report and on the org's connection; raises only NotFound (no such org) and Conflict
    (Stripe not connected), before anything is recorded."""
    return _with_movements(_run(org_id)[0])


def _with_movements(report: Report) -> Report:
    """Then the org's refunds, disputes and payouts (`movements_reconcile.reconcile_org`):
    what it read and changed is added to the report, a failure as a warning (the next run
    reads again from the same checkpoint)."""
    try:
        refunding.heal_requested(report.org_id)
    except RegentraError as exc:
        report.warnings.append(f"refunds asked for in Regentra not confirmed: {exc.message}")
    swept = movements_reconcile.reconcile_org(report.org_id)
    report.movements_read, report.movements_changed = swept.read, swept.changed
    if swept.error:
        report.warnings.append(f"refunds, disputes and payouts not read: {swept.error}")
    return report


def run_task(org_id: uuid.UUID) -> Report | None:
    """The body of the "stripe.reconcile" task: like `reconcile_org`, but a run failed by a
    Stripe outage or rate limit re-raises it (`StripeUnavailable` is `queue.Transient`), so
    the task retries with back-off (the failure is on the card meanwhile). An org deleted or
    disconnected since the task was enqueued is skipped (None)."""
    try:
        report, error = _run(org_id)
    except (Conflict, NotFound) as exc:
        log.info("stripe reconciliation skipped", org_id=str(org_id), reason=exc.message)
        return None
    if isinstance(error, StripeUnavailable):
        raise error
    return _with_movements(report)


def connected_orgs() -> list[uuid.UUID]:
    """Every org with a Stripe secret key stored."""
    with session_scope() as session:
        rows = session.scalars(
            select(OrgSecret.org_id)
            .where(OrgSecret.purpose == SecretPurpose.stripe_secret_key.value)
            .order_by(OrgSecret.org_id)
        )
        return list(rows)


def reconcile_all(*, org_id: uuid.UUID | None = None) -> list[Report]:
    """Every org with Stripe connected (or just `org_id`); one org's failure is recorded on
    its connection and does not stop the others."""
    if org_id is not None:
        return [reconcile_org(org_id)]
    reports = []
    for each in connected_orgs():
        try:
            reports.append(reconcile_org(each))
        except (Conflict, NotFound):
            continue  # disconnected or deleted since the list was read
        except Exception as exc:  # never let one org stop the sweep
            log.exception("stripe reconciliation failed", org_id=str(each))
            reports.append(
                Report(
                    org_id=each, ok=False, message=f"Reconciliation failed ({type(exc).__name__})."
                )
            )
    return reports
