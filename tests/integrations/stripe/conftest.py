"""Shared by the Stripe tests: billing each org for Regentra switched on (a platform account
of the sandbox), and an org whose Regentra subscription is canceled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from integrations.conftest import Billing, StripeApp, use_stripe
from integrations.platform.conftest import Platform, billing_of, subscribe
from regentra.config import get_settings
from regentra.integrations.platform import setup


@pytest.fixture
def regentra_billing(stripe_app: StripeApp, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """Billing each org for Regentra on, against a fresh platform account of the sandbox (as
    the `platform` fixture of tests/integrations/platform)."""
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


def cancel_platform_subscription(platform: Platform, billing: Billing) -> None:
    """The org subscribes to Regentra through Checkout, then its subscription is canceled in
    the platform's Stripe account; the platform webhook tells Regentra."""
    subscription_id = subscribe(platform, billing.kit)
    platform.stripe.v1.subscriptions.cancel(subscription_id)
    for event in platform.events():  # the new ones applied, the others duplicates
        assert platform.deliver(event).status_code == 200
    state = billing_of(billing.kit)
    assert state["status"] == "canceled" and state["can_send_invoices"] is False
