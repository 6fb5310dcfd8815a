"""`regentra worker` starts a Huey consumer on the configured queue and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.e2e]


def test_worker_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REGENTRA_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        # Start and stop only: a periodic sweep falling due in these seconds (every 10 min)
        # would run against a database nobody migrated. The sweeps have their own tests.
        "REGENTRA_PERIODIC_JOBS": "false",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "regentra", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # Started: the consumer logged its start and opened its queue (importing the task
        # modules takes seconds on a loaded machine).
        deadline = time.monotonic() + 60
        while not ((tmp_path / "queue.db").exists() and "consumer starting" in log.read_text()):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "worker did not start: " + log.read_text()
            time.sleep(0.1)
        time.sleep(1)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    output = log.read_text()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
