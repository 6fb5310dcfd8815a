"""Stripe tasks, registered by stable name on the one Huey instance."""

from __future__ import annotations

from regentra.integrations.stripe.catalog_sync import run_sync
from regentra.queue import task

CATALOG_SYNC_RETRIES = 4


@task("stripe.catalog_sync", retries=CATALOG_SYNC_RETRIES, retry_delay=5, max_retry_delay=120)
def catalog_sync(sync_id: str) -> None:
    """Pull the org's Products and Prices into its catalog (retries transient failures)."""
    run_sync(sync_id, max_attempts=CATALOG_SYNC_RETRIES + 1)
