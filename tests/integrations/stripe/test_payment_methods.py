"""Which payment methods invoices offer: from the Stripe account's country by default, the
org's choice otherwise, ACH only for US accounts; through the HTTP API against the Stripe
sandbox, on SQLite and PostgreSQL, and on the Integrations page."""

from __future__ import annotations

from typing import Any

from sandbox.stripe.conftest import StripeSandbox, new_key
from web.pages import PageClient, flash, form_error

from integrations.conftest import Billing, StripeApp, connect_billing


def _country_key(sandbox: StripeSandbox, country: str) -> str:
    """A fresh Stripe account (key) in `country`."""
    sk = new_key()
    with sandbox.control(sk) as control:
        r = control.post("/_sandbox/account", data={"country": country})
    assert r.status_code == 200, r.text
    return sk


def _sent_types(billing: Billing) -> list[str]:
    sent = billing.sent_invoice()
    invoice: Any = billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"])
    return list(invoice.payment_settings.payment_method_types)


def _choose(billing: Billing, **body: Any) -> Any:
    with billing.kit.api() as api:
        return api.put("/integrations/stripe/payment-methods", json=body)


def test_us_account_offers_card_and_ach_by_default(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    with billing.kit.api() as api:
        status = api.get("/integrations/stripe").json()
    assert status["account_country"] == "US"
    assert status["payment_methods"] == ["card", "us_bank_account"]
    assert _sent_types(billing) == ["card", "us_bank_account"]


def test_non_us_account_offers_card_only(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app, key=_country_key(stripe_app.sandbox, "CA"))
    assert _sent_types(billing) == ["card"]


def test_card_only_chosen_on_a_us_account(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    r = _choose(billing, methods=["card"])
    assert r.status_code == 200, r.text
    assert r.json()["payment_methods"] == ["card"]
    assert r.json()["payment_methods_default"] is False
    assert _sent_types(billing) == ["card"]
    # Back to the account's default.
    again = _choose(billing, methods=None)
    assert again.json()["payment_methods"] == ["card", "us_bank_account"]
    assert again.json()["payment_methods_default"] is True


def test_us_account_without_ach_activated_offers_card_only(stripe_app: StripeApp) -> None:
    """Test Connection reads the account's ACH capability: a US account that has not
    activated ACH gets card only by default, and choosing ACH is refused saying why."""
    sk = new_key()
    with stripe_app.sandbox.control(sk) as control:
        r = control.post("/_sandbox/account", data={"country": "US", "payment_methods": "card"})
    assert r.status_code == 200, r.text
    billing = connect_billing(stripe_app, key=sk)
    with billing.kit.api() as api:
        status = api.get("/integrations/stripe").json()
    assert status["account_country"] == "US" and status["ach_available"] is False
    assert status["payment_methods"] == ["card"]
    refused = _choose(billing, methods=["card", "us_bank_account"])
    assert refused.status_code == 422, refused.text
    assert "not activated" in refused.json()["error"]["message"]
    assert _sent_types(billing) == ["card"]
    # Activated in Stripe, then tested again: ACH is offered by default.
    with stripe_app.sandbox.control(sk) as control:
        r = control.post("/_sandbox/account", data={"payment_methods": ["card", "us_bank_account"]})
    assert r.status_code == 200, r.text
    with billing.kit.api() as api:
        assert api.post("/integrations/stripe/test").json()["ok"] is True
        status = api.get("/integrations/stripe").json()
    assert status["ach_available"] is True
    assert status["payment_methods"] == ["card", "us_bank_account"]


def test_ach_on_a_non_us_account_is_refused(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app, key=_country_key(stripe_app.sandbox, "GB"))
    r = _choose(billing, methods=["card", "us_bank_account"])
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "ach_needs_us_account"
    assert "United States" in error["message"] and "GB" in error["message"]
    with billing.kit.api() as api:
        status = api.get("/integrations/stripe").json()
    assert status["payment_methods"] == ["card"] and status["payment_methods_default"] is True
    bad = _choose(billing, methods=["us_bank_account"])
    assert bad.status_code == 422 and "card" in bad.json()["error"]["message"]
    assert _choose(billing, country="USA").status_code == 422


def test_restricted_key_org_picks_the_country(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    sk = new_key()
    with stripe_app.sandbox.control(sk) as control:
        made = control.post(
            "/_sandbox/restricted_keys",
            data={
                "permissions[product]": "read",
                "permissions[price]": "read",
                "permissions[customer]": "write",
                "permissions[invoice]": "write",
                "permissions[event]": "read",
                "permissions[payment_intent]": "read",
                "permissions[charge]": "read",
                "permissions[balance]": "read",
                "permissions[refund]": "write",
                "permissions[dispute]": "read",
                "permissions[payout]": "read",
            },
        )
    rk = made.json()["secret"]
    with kit.api() as api:
        saved = api.put(
            "/integrations/stripe", json={"publishable_key": "pk_test_" + sk[8:], "secret_key": rk}
        )
        assert saved.status_code == 200, saved.text
        status = saved.json()
    # The org sends with the restricted key; the test inspects the account with its owner's.
    billing = Billing(kit, stripe_app.sandbox, sk, webhook_secret="", endpoint_id="")
    assert status["last_test"]["ok"] is True, status["last_test"]
    assert status["account_country"] is None and status["payment_methods"] == ["card"]
    refused = _choose(billing, methods=["card", "us_bank_account"])
    assert refused.status_code == 422  # the country is not known yet
    picked = _choose(billing, country="us", methods=["card", "us_bank_account"])
    assert picked.status_code == 200, picked.text
    assert picked.json()["account_country"] == "US"
    assert _sent_types(billing) == ["card", "us_bank_account"]


def test_the_card_shows_the_choice_and_the_permissions(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app, key=_country_key(stripe_app.sandbox, "GB"))
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        text = page.get("/integrations").text
        assert 'id="stripe-permissions"' in text
        for resource in ("Products", "Prices", "Customers", "Invoices", "Events", "PaymentIntents"):
            assert f'data-resource="{resource}"' in text
        assert 'data-methods="card"' in text and 'data-country="GB"' in text
        refused = page.post(
            "/integrations/stripe/payment-methods",
            {"country": "GB", "methods": "card,us_bank_account"},
        )
        assert refused.status_code == 422
        assert "United States" in (form_error(refused.text) or "")
        saved = page.post(
            "/integrations/stripe/payment-methods", {"country": "US", "methods": "card"}
        )
        saved = page.follow(saved)
        assert "Payment methods saved" in str(flash(saved.text))
        assert 'data-methods="card"' in saved.text and 'data-country="US"' in saved.text
        assert "(the default for this Stripe account)" not in saved.text
