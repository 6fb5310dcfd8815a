"""Hourly reconciliation of each org's subscription from the platform account (the Stripe
sandbox): what lost platform webhooks missed is healed; in-process on both databases."""

from __future__ import annotations

from collections.abc import Callable

from conftest import Database

from integrations.platform.conftest import Platform, billing_of, pay_checkout, row_of, subscribe
from regentra import queue


def test_lost_webhooks_are_healed_by_the_hourly_reconciliation(
    platform: Platform, db: Database, run_tasks: Callable[..., list[str]]
) -> None:
    kit = platform.app.make_org()
    other = platform.app.make_org()  # never subscribed: untouched
    pay_checkout(platform, kit, "pro")  # every platform webhook of it is lost
    body = billing_of(kit)
    assert body["status"] == "trial" and body["activating"] is True
    queue.send("platform.reconcile_sweep")
    assert run_tasks() == ["platform.reconcile_sweep"]
    body = billing_of(kit)
    assert body["status"] == "active" and body["plan"] == "pro" and body["activating"] is False
    row = row_of(db, kit)
    assert row is not None and row.stripe_subscription_id
    assert billing_of(other)["status"] == "trial"

    # Canceled in the Stripe Dashboard, the webhook lost: the next run sees it.
    platform.stripe.v1.subscriptions.cancel(row.stripe_subscription_id)
    queue.send("platform.reconcile_sweep")
    run_tasks()
    body = billing_of(kit)
    assert body["status"] == "canceled" and body["can_send_invoices"] is False
    # And a run with nothing new changes nothing; a late, older event changes nothing either.
    queue.send("platform.reconcile_sweep")
    run_tasks()
    assert billing_of(kit)["status"] == "canceled"
    for event in platform.events():
        assert platform.deliver(event).status_code == 200
    assert billing_of(kit)["status"] == "canceled"


def test_a_subscribed_org_in_step_is_left_alone(platform: Platform, db: Database) -> None:
    from regentra.integrations.platform import reconcile

    kit = platform.app.make_org()
    subscribe(platform, kit)
    assert reconcile.reconcile_all() == {kit.org.id: "in step"}
