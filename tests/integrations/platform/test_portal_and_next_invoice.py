"""The Billing page's next invoice (Stripe's preview) and "Update payment method" (Stripe's
customer portal on the platform account), against the sandbox, in-process."""

from __future__ import annotations

from typing import Any

import httpx
from conftest import Database
from web.pages import PageClient

from integrations.platform.conftest import Platform, billing_of, row_of, subscribe
from regentra.config import get_settings
from regentra.integrations.platform import setup


def test_the_next_invoice_is_stripes_preview_and_follows_the_subscription(
    platform: Platform,
) -> None:
    """Subscribed with two users: the next invoice is the plan fee and two seats, charged at
    the period's end; a plan change adds its prorations; canceling at the period's end leaves
    no next invoice."""
    kit = platform.app.make_org()
    kit.add_user("technician")
    subscribe(platform, kit, "starter")
    settings = get_settings()
    body = billing_of(kit)
    nxt = body["next_invoice"]
    fee, seat = settings.platform_starter_monthly, settings.platform_starter_seat_monthly
    assert nxt["total"] == nxt["amount_due"] == fee + 2 * seat
    assert [line["amount"] for line in nxt["lines"]] == [fee, 2 * seat]
    assert nxt["currency"] == settings.platform_currency.upper()
    assert nxt["date"] == body["current_period_end"]
    with PageClient(platform.app.server) as page:
        page.login(kit.admin.email)
        html = page.get("/billing").text
        assert 'id="billing-next-invoice"' in html and "Starter" in html
    with kit.api() as api:
        assert api.post("/billing/plan", json={"plan": "pro"}).status_code == 200
    moved = billing_of(kit)["next_invoice"]
    amounts = [line["amount"] for line in moved["lines"]]
    assert any(a < 0 for a in amounts) and moved["total"] == sum(amounts)  # prorations
    with kit.api() as api:
        assert api.post("/billing/cancel").status_code == 200
    assert billing_of(kit)["next_invoice"] is None


def test_update_payment_method_through_the_customer_portal(
    platform: Platform, db: Database
) -> None:
    """The "Update payment method" button opens Stripe's customer portal (the configuration
    setup made, back to the Billing page); the card entered there is the one Stripe charges
    next: the subscription's own card (set by Checkout) is moved to the customer, where the
    portal writes. An org that never subscribed is told to subscribe first."""
    kit = platform.app.make_org()
    with kit.api() as api:
        never = api.post("/billing/portal")
    assert never.status_code == 409 and "subscribe first" in never.json()["error"]["message"]
    subscription_id = subscribe(platform, kit)
    row = row_of(db, kit)
    assert row is not None and row.stripe_customer_id
    # As Stripe Checkout leaves it: the card is the subscription's, the customer has none.
    platform.stripe.v1.customers.update(
        row.stripe_customer_id, {"invoice_settings": {"default_payment_method": ""}}
    )
    assert billing_of(kit)["payment_method"] == "visa •••• 4242"  # the subscription's
    sub_card = platform.raw(f"/v1/subscriptions/{subscription_id}")["default_payment_method"]
    assert sub_card
    with PageClient(platform.app.server) as page:
        page.login(kit.admin.email)
        assert 'id="billing-portal"' in page.get("/billing").text
        opened = page.post("/billing/portal", {})
        assert opened.status_code == 303, opened.text
        url = opened.headers["location"]
    assert url.startswith(platform.app.sandbox.url + "/p/session/bps_")
    portal = httpx.get(url, timeout=30)
    assert portal.status_code == 200 and "Visa •••• 4242" in portal.text
    assert get_settings().base_url + "/billing" in portal.text  # the way back
    sub = platform.raw(f"/v1/subscriptions/{subscription_id}")
    customer: dict[str, Any] = platform.raw(f"/v1/customers/{row.stripe_customer_id}")
    assert sub["default_payment_method"] is None  # moved to the customer
    assert customer["invoice_settings"]["default_payment_method"] == sub_card

    card = {"card_number": "5555 5555 5555 4444", "exp": "12 / 34", "cvc": "123"}
    assert httpx.post(url, data=card, timeout=30).status_code == 303
    body = billing_of(kit)
    assert body["payment_method"] == "mastercard •••• 4444"
    with kit.api() as api:
        again = api.post("/billing/portal")
    assert again.status_code == 201 and again.json()["url"].startswith(
        platform.app.sandbox.url + "/p/session/bps_"
    )
    # The next charge uses the new card: the subscription names none, the customer's is it.
    expanded = platform.stripe.v1.customers.retrieve(
        row.stripe_customer_id, {"expand": ["invoice_settings.default_payment_method"]}
    )
    assert expanded.invoice_settings.default_payment_method.card.last4 == "4444"
    assert platform.raw(f"/v1/subscriptions/{subscription_id}")["default_payment_method"] is None


def test_setup_makes_the_portal_configuration_once(platform: Platform, db: Database) -> None:
    """The configuration setup made is kept on every later run, and found again by its
    metadata when the stored id is lost (a new database against the same account)."""
    from regentra.models import PlatformSettings

    with db.session() as session:
        first = session.get(PlatformSettings, 1)
        assert first is not None and first.portal_configuration_id
        made = first.portal_configuration_id
    assert "customer portal configuration" in setup.set_up().kept
    with db.session() as session:
        row = session.get(PlatformSettings, 1)
        assert row is not None
        row.portal_configuration_id = None
        session.commit()
    report = setup.set_up()
    assert "customer portal configuration" in report.kept and report.saved
    with db.session() as session:
        row = session.get(PlatformSettings, 1)
        assert row is not None and row.portal_configuration_id == made
    listed = platform.raw("/v1/billing_portal/configurations")
    assert [c["id"] for c in listed["data"]] == [made]
    assert listed["data"][0]["features"]["payment_method_update"]["enabled"] is True
    assert listed["data"][0]["features"]["subscription_cancel"]["enabled"] is False


def test_an_org_never_sees_or_changes_another_orgs_subscription(platform: Platform) -> None:
    """With billing on: org B's admin sees B's own trial, none of A's card, invoices or next
    invoice, and every change B asks for is refused (B has no subscription); A's subscription
    in Stripe is as it was."""
    a, b = platform.app.make_org(), platform.app.make_org()
    subscription_id = subscribe(platform, a, "starter")
    before = platform.raw(f"/v1/subscriptions/{subscription_id}")
    body = billing_of(b)
    assert body["status"] == "trial" and body["plan"] is None
    assert body["payment_method"] is None and body["invoices"] == []
    assert body["next_invoice"] is None
    with b.api() as api:
        for path, payload in (
            ("/billing/plan", {"plan": "pro"}),
            ("/billing/cancel", None),
            ("/billing/resume", None),
            ("/billing/portal", None),
        ):
            refused = api.post(path, json=payload) if payload else api.post(path)
            assert refused.status_code == 409, (path, refused.text)
    with PageClient(platform.app.server) as page:
        page.login(b.admin.email)
        html = page.get("/billing").text
        assert 'id="billing-card"' not in html and 'id="billing-next-invoice"' not in html
    after = platform.raw(f"/v1/subscriptions/{subscription_id}")
    assert after["items"] == before["items"] and after["cancel_at_period_end"] is False
    assert billing_of(a)["status"] == "active" and billing_of(a)["plan"] == "starter"
