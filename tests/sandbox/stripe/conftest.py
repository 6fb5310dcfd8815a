"""The Stripe sandbox as a separate server on 127.0.0.1, driven by the real `stripe` SDK."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import stripe
from support.sandbox_process import spawn_sandbox, stop_process

from sandbox.stripe.receiver import Receiver


@dataclass
class StripeSandbox:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, key: str | None = None) -> stripe.StripeClient:
        """A real SDK client on a fresh account (each key is its own account)."""
        return stripe.StripeClient(
            key or new_key(), base_addresses={"api": self.url}, max_network_retries=0
        )

    def control(self, key: str) -> httpx.Client:
        """The /_sandbox control API, authenticated as the account of `key`."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


def new_key(mode: str = "test") -> str:
    return f"sk_{mode}_{uuid.uuid4().hex}"


def start_sandbox(*args: str, state: Path | None = None) -> StripeSandbox:
    return StripeSandbox(*spawn_sandbox("stripe", "/v1/account", *args, state=state))


def stop_sandbox(sandbox: StripeSandbox) -> None:
    stop_process(sandbox.process)


@pytest.fixture(scope="session")
def stripe_sandbox(app_sandbox: StripeSandbox) -> StripeSandbox:
    """The session's one sandbox server (tests/support/stripe_fixtures.py), rate limit off
    (tests that need it start their own). Tests keep apart by using fresh keys, i.e. fresh
    accounts."""
    return app_sandbox


@pytest.fixture(scope="module")
def box() -> Iterator[StripeSandbox]:
    """A sandbox of the test module's own, for tests that change sandbox-wide settings
    (faults, delivery settings) and must not disturb other modules."""
    sandbox = start_sandbox("--rate-limit", "0")
    yield sandbox
    stop_sandbox(sandbox)


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that records what it gets."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def sk() -> str:
    return new_key()


@pytest.fixture
def client(stripe_sandbox: StripeSandbox, sk: str) -> stripe.StripeClient:
    return stripe_sandbox.client(sk)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., StripeSandbox]]:
    started: list[StripeSandbox] = []

    def make(*args: str, state: Path | None = None) -> StripeSandbox:
        sandbox = start_sandbox(*args, state=state)
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        stop_sandbox(sandbox)
