"""Platform billing's tasks, registered by stable name on the one Huey instance."""

from __future__ import annotations

import uuid

from regentra import queue
from regentra.billing.service import SYNC_QUANTITIES_TASK
from regentra.integrations.platform import quantities, reconcile
from regentra.queue import task


@task(SYNC_QUANTITIES_TASK, retries=8, retry_delay=5, max_retry_delay=300)
def sync_quantities(org_id: str) -> None:
    """Seats and compliance tenants on the org's subscription follow its counts (coalesced,
    paced per subscription; retries Stripe outages)."""
    quantities.sync(uuid.UUID(org_id))


@task("platform.quantities_drift_sweep")
def quantities_drift_sweep() -> None:
    """Periodic (daily): every subscribed org's quantities checked against its counts, one
    task per org; a correction is audited like any update."""
    for org_id in quantities.subscribed_orgs():
        queue.send(SYNC_QUANTITIES_TASK, str(org_id))


@task("platform.reconcile_sweep")
def reconcile_sweep() -> None:
    """Periodic (hourly): each org's subscription as Stripe has it now (what a lost platform
    webhook missed)."""
    reconcile.reconcile_all()
