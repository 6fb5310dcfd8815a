"""Stripe tasks, registered by stable name on the one Huey instance."""

from __future__ import annotations

import uuid

from regentra import queue
from regentra.integrations.stripe import declines, handlers, movements, retention
from regentra.integrations.stripe import reconcile as reconciliation
from regentra.integrations.stripe.catalog_sync import run_sync
from regentra.queue import task

CATALOG_SYNC_RETRIES = 4


@task("stripe.catalog_sync", retries=CATALOG_SYNC_RETRIES, retry_delay=5, max_retry_delay=120)
def catalog_sync(sync_id: str) -> None:
    """Pull the org's Products and Prices into its catalog (retries transient failures)."""
    run_sync(sync_id, max_attempts=CATALOG_SYNC_RETRIES + 1)


@task(handlers.PAYMENT_PROCESSING_TASK, retries=6, retry_delay=5, max_retry_delay=300)
def payment_processing(
    org_id: str, payment_intent_id: str, event_id: str, created: int | None = None
) -> None:
    """A bank payment is processing: find the invoice it pays in Stripe and note it there
    (retries Stripe outages; `stripe.pending_events_sweep` re-enqueues what still waits)."""
    handlers.resolve_processing(uuid.UUID(org_id), payment_intent_id, event_id, created)


@task(handlers.PAYMENT_FAILURE_TASK, retries=6, retry_delay=5, max_retry_delay=300)
def payment_failure(
    org_id: str, stripe_invoice_id: str, event_id: str, created: int | None = None
) -> None:
    """A client's payment failed: read the decline reason from the invoice's PaymentIntent in
    Stripe and note it on the invoice (retries Stripe outages)."""
    declines.resolve_failure(uuid.UUID(org_id), stripe_invoice_id, event_id, created)


@task("stripe.pending_events_sweep")
def pending_events_sweep() -> None:
    """Periodic: enqueue again the event lookups a crash or a long outage left pending."""
    handlers.requeue_pending()


@task("stripe.event_payloads_sweep")
def event_payloads_sweep() -> None:
    """Periodic (daily): stored events past REGENTRA_STRIPE_EVENT_PAYLOAD_DAYS lose their
    payload (the rows stay)."""
    retention.drop_old_payloads()


@task("stripe.reconcile_sweep")
def reconcile_sweep() -> None:
    """Periodic (hourly): one "stripe.reconcile" task per org with Stripe connected, so
    workers share the orgs and one org's retries never hold up another's."""
    for org_id in reconciliation.connected_orgs():
        queue.send("stripe.reconcile", str(org_id))


@task("stripe.reconcile", retries=3, retry_delay=60, max_retry_delay=900)
def reconcile(org_id: str) -> None:
    """Reconcile one org's open invoices with Stripe (retries Stripe outages and rate limits;
    every run, failed or not, is recorded on the org's Stripe card)."""
    reconciliation.run_task(uuid.UUID(org_id))


@task(handlers.MOVEMENT_TASK, retries=6, retry_delay=5, max_retry_delay=300)
def sync_movement(
    org_id: str, object_id: str, event_id: str, created: int | None, kind: str
) -> None:
    """Read again the refund, dispute or payout (or a charge's refunds) an event named, and
    mirror it (`movements.sync`)."""
    del created  # the object's own dates are read from Stripe
    movements.sync(uuid.UUID(org_id), object_id, event_id, kind)
