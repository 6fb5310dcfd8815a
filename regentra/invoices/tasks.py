"""Invoice tasks, registered by stable name on the one Huey instance."""

from __future__ import annotations

import structlog

from regentra.db import session_scope
from regentra.invoices import transitions
from regentra.queue import task

log = structlog.get_logger(__name__)


@task("invoices.overdue_sweep")
def overdue_sweep() -> int:
    """Periodic: every org's `sent` invoices past their due date in the org's time zone
    become `overdue` (audited). One conditional UPDATE per org, so a sweep racing a payment
    or another sweep moves each invoice once; returns how many moved."""
    with session_scope() as session:
        moved = transitions.mark_overdue(session)
    if moved:
        log.info("invoices marked overdue", count=moved)
    return moved
