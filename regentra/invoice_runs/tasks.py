"""The invoice run's send job, registered by stable name on the one Huey instance."""

from __future__ import annotations

import uuid

from regentra.db import session_scope
from regentra.invoice_runs import service
from regentra.queue import task


@task(service.SEND_TASK)
def send_run(run_id: str) -> int:
    """Send the run's queued drafts (`service.send_all`); how many were sent. Safe to run
    twice at once or again after a crash: each invoice is sent once."""
    return service.send_all(session_scope, uuid.UUID(run_id))
