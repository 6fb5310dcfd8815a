"""A Stripe sandbox server for the benchmarks: a separate process on a free loopback port,
rate limit off."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn_healthy(
    command: list[str], *, env: dict[str, str], log_path: Path, url: str, name: str, timeout: float
) -> subprocess.Popen[bytes]:
    """Start `command` (output to `log_path`) and wait until `url`/healthz answers 200."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{name} did not become healthy:\n{log_path.read_text()}")


def start_sandbox(*, limited: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    """Start `regentra sandbox stripe` (with Stripe's rate limits when `limited`, else none);
    returns the process and its base URL."""
    port = free_port()
    command = [
        "sandbox",
        "stripe",
        "--port",
        str(port),
        *(() if limited else ("--rate-limit", "0")),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "regentra", *command],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/v1/account", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("sandbox did not start")


def requests_of(url: str, key: str) -> list[dict[str, Any]]:
    """The Stripe sandbox's request log for the account of `key` (at most 10,000)."""
    response = httpx.get(
        url + "/_sandbox/requests",
        params={"limit": 10000},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["data"]
    return found
