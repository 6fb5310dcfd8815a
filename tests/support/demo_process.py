"""`regentra demo` as a process (what `make demo` runs), for the tests that use the demo as a
user would: its own var/ folder, free ports, its output in a log file.

Also used outside pytest by `scripts/screenshots`, so it imports nothing from the tests'
conftest (which configures the test process as it loads): only the standard library and httpx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:  # as tests/conftest.py's (which this module cannot import)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    base: str  # the app
    stripe: str  # the Stripe sandbox beside it
    quickbooks: str  # the QuickBooks Online sandbox
    var: Path
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def printed(self) -> str:
        return self.log.read_text()


@contextmanager
def running_demo(tmp_path: Path, *, ready_within: float = 60) -> Iterator[Demo]:
    """Start the demo and wait for its login page; stop it afterwards."""
    port, stripe_port, quickbooks_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGENTRA_")}
    var = tmp_path / "var"
    env["REGENTRA_VAR_DIR"] = str(var)
    log = tmp_path / "demo.log"
    ports = ["--port", str(port), "--stripe-port", str(stripe_port)]
    ports += ["--quickbooks-port", str(quickbooks_port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "regentra", "demo", *ports],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    demo = Demo(
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{stripe_port}",
        f"http://127.0.0.1:{quickbooks_port}",
        var,
        log,
        proc,
    )
    try:
        deadline = time.monotonic() + ready_within
        while True:
            assert proc.poll() is None, demo.printed
            try:
                if httpx.get(f"{demo.base}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, demo.printed
            time.sleep(0.2)
        yield demo
    finally:
        proc.terminate()
        proc.wait(timeout=20)
