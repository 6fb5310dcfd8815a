"""The Stripe fixtures every test directory shares (a plugin of the root conftest, so each
pytest process starts one sandbox and, per backend, at most one `stripe_server`).

`app_sandbox`: the session's Stripe sandbox server (rate limit off; a test that needs 429s or
changes sandbox-wide settings starts one of its own). `stripe_app`: the app in-process on the
test's transaction, talking to it. `stripe_server`: a real `regentra serve` on the backend's
database talking to it, for e2e tests. Helpers live in tests/integrations/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Database, Site, stop_server
from integrations.conftest import StripeApp, start_stripe_app, use_stripe
from sandbox.stripe.conftest import StripeSandbox, start_sandbox, stop_sandbox


@pytest.fixture(scope="session")
def app_sandbox() -> Iterator[StripeSandbox]:
    """The Stripe sandbox the `stripe_app` servers talk to (rate limit off; a test that
    needs 429s starts a sandbox of its own)."""
    sandbox = start_sandbox("--rate-limit", "0")
    yield sandbox
    stop_sandbox(sandbox)


@pytest.fixture(scope="module")
def clock_sandbox() -> Iterator[StripeSandbox]:
    """A Stripe sandbox of the test module's own (rate limit off), for tests that move its
    clock (daily payouts, subscription periods) without moving everyone else's."""
    sandbox = start_sandbox("--rate-limit", "0")
    yield sandbox
    stop_sandbox(sandbox)


@pytest.fixture
def stripe_app(
    db: Database, site: Site, app_sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch
) -> StripeApp:
    """(the app in-process, sandbox) on the test's transaction, for each backend."""
    # No client-side pacing against the sandbox (its rate limit is off too); the throttle has
    # tests of its own (test_client.py).
    use_stripe(monkeypatch, app_sandbox.url, stripe_max_rps="0")
    return StripeApp(site, app_sandbox, db)


@pytest.fixture(scope="session")
def stripe_server(database: Database, app_sandbox: StripeSandbox) -> Iterator[StripeApp]:
    """(a real `regentra serve`, sandbox) for each backend, for e2e tests: webhook deliveries,
    several processes, server logs."""
    server = start_stripe_app(database, app_sandbox.url)
    yield StripeApp(server, app_sandbox, database)
    stop_server(server)
