"""Shared by the Stripe tests: billing each org for Regentra switched on (the `platform`
fixture of tests/integrations/platform, a platform account of the sandbox), and an org whose
Regentra subscription is canceled."""

from __future__ import annotations

from integrations.conftest import Billing
from integrations.platform.conftest import Platform, billing_of, subscribe
from integrations.platform.conftest import platform as platform  # the fixture, shared


def cancel_platform_subscription(platform: Platform, billing: Billing) -> None:
    """The org subscribes to Regentra through Checkout, then its subscription is canceled in
    the platform's Stripe account; the platform webhook tells Regentra."""
    subscription_id = subscribe(platform, billing.kit)
    platform.stripe.v1.subscriptions.cancel(subscription_id)
    for event in platform.events():  # the new ones applied, the others duplicates
        assert platform.deliver(event).status_code == 200
    state = billing_of(billing.kit)
    assert state["status"] == "canceled" and state["can_send_invoices"] is False
