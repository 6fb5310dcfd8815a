"""Run a sandbox (`regentra sandbox stripe|quickbooks`) as its own server process on a free
port, and stop it: the one way both sandboxes' fixtures start theirs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import ROOT, free_port


def spawn_sandbox(
    kind: str, ready_path: str, *args: str, state: Path | None = None
) -> tuple[str, subprocess.Popen[bytes], Path]:
    """(url, process, log path) once `ready_path` answers over HTTP (any status)."""
    port = free_port()
    log_path = Path(os.environ.get("REGENTRA_VAR_DIR", "/tmp")) / f"{kind}-sandbox-{port}.log"
    cmd = [sys.executable, "-m", "regentra", "sandbox", kind, "--port", str(port), *args]
    if state is not None:
        cmd += ["--state", str(state)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} sandbox exited:\n{log_path.read_text()}")
        try:
            httpx.get(url + ready_path, timeout=1)
            return url, proc, log_path
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{kind} sandbox did not start:\n{log_path.read_text()}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
