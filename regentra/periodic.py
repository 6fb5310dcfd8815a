"""The one place periodic jobs are declared.

A periodic job names a task declared with `regentra.queue.task` beside its flow (for
example the hourly Stripe reconciliation sweep in `integrations/stripe/tasks.py`) and a
schedule. Every consumer's scheduler wakes it on time; it runs the task under Huey's
`lock_task`, so when several consumers (`regentra worker` processes, `regentra serve` on a
SQLite queue) wake the same job at once, one runs it and the others log that it was locked
and skip. Sweeps must still be idempotent: a lock left by a consumer that died mid-run is
flushed when a consumer starts.

`regentra.queue.get_huey()` installs `SCHEDULE` on the process's Huey instance after loading
the task modules; `install` looks tasks up among those already declared.

To add one, append to `SCHEDULE`, e.g. (with `from huey import crontab`)::

    Periodic("stripe.reconcile", task="stripe.reconcile_sweep", schedule=crontab(minute="7"))
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from huey import Huey, crontab

from regentra import task_registry


@dataclass(frozen=True)
class Periodic:
    name: str  # also the lock's name
    task: str  # a task declared with @regentra.queue.task
    schedule: Callable[[datetime.datetime], bool]  # huey.crontab(...)


SCHEDULE: tuple[Periodic, ...] = (
    # Hourly, off the top of the hour: heal invoices whose `invoice.paid` webhook was lost.
    Periodic("stripe.reconcile", task="stripe.reconcile_sweep", schedule=crontab(minute="7")),
    # Hourly, apart from Stripe's: QuickBooks postings still pending (an outage outlasted the
    # task's retries, or a worker died) or waiting on an org that can post again.
    Periodic(
        "quickbooks.postings", task="quickbooks.postings_sweep", schedule=crontab(minute="37")
    ),
    # Every 15 minutes: an invoice turns overdue soon after midnight in its org's time zone
    # (time zones are offset by quarter hours at the finest).
    Periodic("invoices.overdue", task="invoices.overdue_sweep", schedule=crontab(minute="*/15")),
    # Every 10 minutes: webhook events whose follow-up task a crash or a long outage dropped
    # (a bank payment's invoice still to look up) are enqueued again.
    Periodic(
        "stripe.pending_events",
        task="stripe.pending_events_sweep",
        schedule=crontab(minute="*/10"),
    ),
    # Hourly, apart from the others: each org's Regentra subscription as the platform's Stripe
    # account has it (what a lost platform webhook missed).
    Periodic("platform.reconcile", task="platform.reconcile_sweep", schedule=crontab(minute="52")),
    # Daily: each subscribed org's seat and compliance-tenant quantities checked against its
    # counts in the platform's Stripe account (drift corrected and audited).
    Periodic(
        "platform.quantities_drift",
        task="platform.quantities_drift_sweep",
        schedule=crontab(minute="41", hour="4"),
    ),
    # Daily, at a quiet hour (UTC): stored Stripe events past their retention period lose
    # their payload and keep the row (REGENTRA_STRIPE_EVENT_PAYLOAD_DAYS, 90 by default).
    Periodic(
        "stripe.event_payloads",
        task="stripe.event_payloads_sweep",
        schedule=crontab(minute="23", hour="3"),
    ),
)

LOCK_PREFIX = "periodic."


def install(huey: Huey, entries: Sequence[Periodic] = SCHEDULE) -> None:
    """Register `entries` as periodic tasks of `huey`; each runs its task under a lock."""
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"periodic job names must be unique: {names}")
    for entry in entries:
        _install(huey, entry)


def _install(huey: Huey, entry: Periodic) -> None:
    spec = task_registry.find(entry.task)
    if spec is None:  # fail at start-up for a job naming an unknown task
        raise task_registry.unknown(entry.task)
    lock = huey.lock_task(LOCK_PREFIX + entry.name)

    def sweep() -> None:
        with lock:
            spec.fn()

    sweep.__name__ = sweep.__qualname__ = LOCK_PREFIX + entry.name
    sweep.__module__ = task_registry.TASK_NAMESPACE
    huey.periodic_task(entry.schedule, name=LOCK_PREFIX + entry.name)(sweep)
