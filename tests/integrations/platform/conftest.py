"""Platform billing's shared fixtures: billing on against a fresh platform account of the
Stripe sandbox, and an org subscribed through Checkout and the platform webhook."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import ROOT, Database
from factories import OrgKit
from sqlalchemy import select
from web.pages import PageClient

from integrations.conftest import StripeApp, use_stripe
from integrations.stripe.test_webhook_events import sign
from regentra.config import get_settings
from regentra.integrations.platform import setup
from regentra.models import OrgBilling

WEBHOOK = "/api/webhooks/platform/stripe"


@dataclass
class Platform:
    app: StripeApp
    key: str
    secret: str

    @property
    def stripe(self) -> Any:
        return self.app.sandbox.client(self.key)

    def events(self) -> list[dict[str, Any]]:
        """The platform account's events, oldest first, as Stripe sends them."""
        listed = httpx.get(
            f"{self.app.sandbox.url}/v1/events",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
        return list(reversed(listed.json()["data"]))

    def raw(self, path: str) -> dict[str, Any]:
        """A Stripe object as the API sends it (JSON, decimals as strings)."""
        got = httpx.get(
            f"{self.app.sandbox.url}{path}",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    def deliver(self, event: dict[str, Any], *, secret: str | None = None) -> httpx.Response:
        body = json.dumps(event).encode()
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": sign(body, secret or self.secret),
        }
        with self.app.server.http() as http:  # type: ignore[union-attr]
            return http.post(WEBHOOK, content=body, headers=headers)


@pytest.fixture
def platform(stripe_app: StripeApp, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """Billing on: the platform account set up (its webhook secret configured)."""
    key = f"sk_test_platform{uuid.uuid4().hex}"
    use_stripe(
        monkeypatch, stripe_app.sandbox.url, stripe_max_rps="0", platform_stripe_secret_key=key
    )
    report = setup.set_up()
    assert report.webhook_secret
    monkeypatch.setenv("REGENTRA_PLATFORM_STRIPE_WEBHOOK_SECRET", report.webhook_secret)
    get_settings.cache_clear()
    yield Platform(stripe_app, key, report.webhook_secret)
    get_settings.cache_clear()


def billing_of(kit: OrgKit) -> dict[str, Any]:
    with kit.api() as api:
        response = api.get("/billing")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def row_of(db: Database, kit: OrgKit) -> OrgBilling | None:
    with db.session() as session:
        return session.scalar(select(OrgBilling).where(OrgBilling.org_id == kit.org.id))


def pay_checkout(platform: Platform, kit: OrgKit, plan: str = "starter") -> None:
    """The admin picks `plan` on the Billing page and pays on Stripe Checkout with a test
    card (the platform account's events are not delivered)."""
    with PageClient(platform.app.server) as page:
        page.login(kit.admin.email)
        chosen = page.post("/billing/checkout", {"plan": plan})
        assert chosen.status_code == 303, chosen.text
        url = chosen.headers["location"]
        assert url.startswith(platform.app.sandbox.url + "/c/pay/")
        assert 'id="billing-activating"' in page.get("/billing?checkout=done").text
    card = {"card_number": "4242 4242 4242 4242", "exp": "12 / 34", "cvc": "123", "name": "Owner"}
    paid = httpx.post(url, data=card, follow_redirects=False, timeout=30)
    assert paid.status_code == 303, paid.text
    assert paid.headers["location"] == get_settings().base_url + "/billing?checkout=done"


def subscribe(platform: Platform, kit: OrgKit, plan: str = "starter") -> str:
    """`pay_checkout`, then the platform account's events delivered: the subscription's id."""
    pay_checkout(platform, kit, plan)
    for event in platform.events():
        assert platform.deliver(event).status_code == 200
    row = row_of(platform.app.database, kit)
    assert row is not None and row.stripe_subscription_id
    return row.stripe_subscription_id


def platform_setup_cli(env: dict[str, str]) -> str:
    """`regentra platform setup` as an operator runs it, with `env` (the database, the base
    URL, the Stripe API base and the platform key): the signing secret it prints, once."""
    made = subprocess.run(
        [sys.executable, "-m", "regentra", "platform", "setup"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    (secret,) = re.findall(r"whsec_\S+", made.stdout)
    return secret
