"""`regentra worker` starts a Huey consumer on the configured queue and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT


def test_worker_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "REGENTRA_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "regentra", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "queue.db").exists():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "worker did not open its queue"
            time.sleep(0.1)
        time.sleep(1)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "Traceback" not in output
