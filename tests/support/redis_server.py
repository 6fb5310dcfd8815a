"""A throwaway Redis server for the tests: Debian's `redis-server` on 127.0.0.1, a free port,
no persistence, stopped by `RedisServer.stop()` (and at interpreter exit).

A missing binary fails the test with the command to install it: it is never skipped.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

REDIS_SERVER = "/usr/bin/redis-server"
NOT_FOUND_MESSAGE = (
    f"{REDIS_SERVER} not found: install Debian's redis-server package "
    "(apt-get install -y redis-server, or scripts/system-deps)"
)


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis() -> RedisServer:
    if not Path(REDIS_SERVER).is_file():
        pytest.fail(NOT_FOUND_MESSAGE, pytrace=False)
    workdir = Path(tempfile.mkdtemp(prefix="regentra-redis-"))
    port = _free_port()
    log_path = workdir / "redis.log"
    cmd = [
        REDIS_SERVER,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--logfile", str(log_path),
    ]  # fmt: skip
    process = subprocess.Popen(cmd, cwd=workdir)
    server = RedisServer(port, process, workdir)
    atexit.register(server.stop)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text() if log_path.exists() else ""
            raise RuntimeError(f"redis-server exited with {process.returncode}:\n{log}")
        try:
            if server.client().ping():
                return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("redis-server did not answer PING within 20 s")
