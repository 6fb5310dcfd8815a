"""Regentra wired to the Stripe sandbox (a real server on 127.0.0.1), per database backend.

`stripe_app` is the app in-process, on the test's transaction, whose Stripe client talks to
the sandbox (`REGENTRA_STRIPE_API_BASE`); jobs run when the test calls `run_tasks`. The
sandbox cannot deliver webhooks to it: tests of deliveries use `stripe_server` instead, a
real `regentra serve` on the backend's database with a job queue of its own (so its
in-process worker runs only this server's tasks), and are marked `e2e`. Unpack either as
`server, sandbox = stripe_app`, or use `.make_org()` for an org whose `.api()` calls it.
Each org connects with its own fresh sandbox key (`new_key()`), i.e. its own Stripe account.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import (
    _VAR,
    Database,
    LiveServer,
    OrgKit,
    Site,
    _org_factory,
    start_server,
)
from sandbox.stripe.conftest import StripeSandbox

# Key material after a Stripe prefix. A hint (`sk_test_…4f2a`) has an ellipsis there.
SECRET_SHAPED = re.compile(r"(?:sk|rk)_(?:test|live)_[A-Za-z0-9]|whsec_[A-Za-z0-9]")


def assert_no_secret(text: str, *secrets: str) -> None:
    """No key material in `text` (a response, a page, a log), and none of `secrets`."""
    found = SECRET_SHAPED.search(text)
    assert found is None, text[max(0, found.start() - 80) : found.end() + 80]
    for secret in secrets:
        assert secret not in text
        assert secret[-12:] not in text  # nor its random tail


@dataclass
class StripeApp:
    server: LiveServer | Site
    sandbox: StripeSandbox
    database: Database

    def __iter__(self) -> Iterator[Any]:
        yield self.server
        yield self.sandbox

    @property
    def make_org(self) -> Callable[..., OrgKit]:
        return _org_factory(self.database, self.server)


def start_stripe_app(
    database: Database, stripe_base: str, *, extra_env: dict[str, str] | None = None
) -> LiveServer:
    """A server on `database` whose Stripe is `stripe_base` (a sandbox, or a dead port)."""
    queue = _VAR / f"queue-stripe-app-{uuid.uuid4().hex[:8]}.db"
    env = {
        "REGENTRA_STRIPE_API_BASE": stripe_base,
        "REGENTRA_QUEUE_URL": f"sqlite:///{queue}",
        **(extra_env or {}),
    }
    return start_server(database.url, extra_env=env)


def use_stripe(monkeypatch: pytest.MonkeyPatch, base: str, **env: str) -> None:
    """Point this process's settings at the Stripe `base` (and any other `REGENTRA_*`
    settings given), for one test (conftest reads them afresh after it)."""
    from regentra.config import get_settings

    monkeypatch.setenv("REGENTRA_STRIPE_API_BASE", base)
    for name, value in env.items():
        monkeypatch.setenv(f"REGENTRA_{name.upper()}", value)
    get_settings.cache_clear()


# ---- invoices: an org connected to the sandbox with its webhook endpoint added --------------


@dataclass
class Billing:
    """An org of a `stripe_app` connected to its own sandbox account (key), with the org's
    webhook URL added as an endpoint in that account and its signing secret saved."""

    kit: OrgKit
    sandbox: StripeSandbox
    key: str
    webhook_secret: str
    endpoint_id: str

    @property
    def stripe(self) -> Any:
        """The org's Stripe account through the real SDK (to count and inspect objects)."""
        return self.sandbox.client(self.key)

    def control(self) -> Any:
        """The sandbox's /_sandbox control API as this org's account."""
        return self.sandbox.control(self.key)

    def invoice(self, *, minutes: int = 90, rate: int = 12000, entries: int = 1) -> dict[str, Any]:
        """A draft (via POST /invoices) billing `entries` approved entries of a new USD client."""
        client = self.kit.client(hourly_rate=rate)
        ticket = self.kit.ticket(client)
        tech = self.kit.add_user("technician")
        approver = self.kit.add_user("approver")
        for _ in range(entries):
            self.kit.entry(
                tech, ticket=ticket, minutes=minutes, status="approved", approver=approver
            )
        with self.kit.api() as api:
            response = api.post("/invoices", json={"client_id": str(client.id)})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def sent_invoice(self, **kw: Any) -> dict[str, Any]:
        draft = self.invoice(**kw)
        with self.kit.api() as api:
            response = api.post(f"/invoices/{draft['id']}/send")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["status"] == "sent", body
        return body

    def sent_invoices(self, count: int, *, rate: int = 12000) -> list[dict[str, Any]]:
        """`count` invoices of one new USD client, each billing one approved entry (15 to 134
        minutes: the amounts differ), sent through the API four at a time."""
        kit = self.kit
        client = kit.client(hourly_rate=rate)
        ticket = kit.ticket(client)
        tech = kit.add_user("technician")
        approver = kit.add_user("approver")
        entries = [
            kit.entry(tech, ticket=ticket, minutes=15 + i % 120, status="approved",
                      approver=approver)
            for i in range(count)
        ]  # fmt: skip

        def make(entry: Any) -> dict[str, Any]:
            with kit.api() as api:
                draft = api.post(
                    "/invoices", json={"client_id": str(client.id), "entry_ids": [str(entry.id)]}
                )
                assert draft.status_code == 201, draft.text
                sent = api.post(f"/invoices/{draft.json()['id']}/send")
                assert sent.status_code == 200, sent.text
                body: dict[str, Any] = sent.json()
                return body

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(make, entries))


def connect_billing(
    app: StripeApp,
    kit: OrgKit | None = None,
    *,
    key: str | None = None,
    events: list[str] | None = None,
) -> Billing:
    """Connect an org (a new one unless given) as an admin would: keys, then the webhook
    endpoint added in the Stripe "Dashboard" (the sandbox control API), then its secret."""
    from sandbox.stripe.conftest import new_key

    kit = kit or app.make_org()
    key = key or new_key()
    with kit.api() as api:
        saved = api.put(
            "/integrations/stripe",
            json={"publishable_key": "pk_test_" + key[8:], "secret_key": key},
        )
        assert saved.status_code == 200, saved.text
        url = saved.json()["webhook_url"]
        form: dict[str, Any] = {"url": url}
        if events:  # the endpoint's enabled events (default: all)
            form["enabled_events[]"] = events
        endpoint = app.sandbox.control(key).post("/_sandbox/webhooks", data=form)
        assert endpoint.status_code == 200, endpoint.text
        secret = endpoint.json()["secret"]
        signed = api.put(
            "/integrations/stripe",
            json={"publishable_key": "pk_test_" + key[8:], "webhook_signing_secret": secret},
        )
        assert signed.status_code == 200, signed.text
    return Billing(kit, app.sandbox, key, secret, endpoint.json()["id"])


def reconcile_after_drops(billing: Billing, database: Database) -> int:
    """After webhooks were dropped for good: the org's invoices still open (asserted to be
    some: the faults bit) are found paid by one reconciliation run through the API.
    Returns how many there were."""
    from sqlalchemy import func, select

    from regentra.models import Invoice

    with database.session() as s:
        still_open = s.scalar(
            select(func.count()).where(
                Invoice.org_id == billing.kit.org.id, Invoice.status == "sent"
            )
        )
        s.rollback()
    assert still_open, "no webhook was lost: the faults did not bite"
    with billing.kit.api() as api:
        run = api.post("/integrations/stripe/reconcile")
        assert run.status_code == 200, run.text
        assert run.json()["ok"] is True, run.json()
        assert len(run.json()["paid"]) == still_open, run.json()
    return int(still_open)
