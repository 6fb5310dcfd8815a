"""Restricted keys, the account's settings and the invoice payment methods they allow, through
the real `stripe` SDK against the sandbox server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from sandbox.stripe.conftest import StripeSandbox, new_key


def restricted_key(sandbox: StripeSandbox, sk: str, **permissions: str) -> str:
    """A restricted key of the account of `sk`, made as the Dashboard would."""
    form = {f"permissions[{name}]": access for name, access in permissions.items()}
    with sandbox.control(sk) as control:
        made = control.post("/_sandbox/restricted_keys", data=form)
    assert made.status_code == 200, made.text
    secret: str = made.json()["secret"]
    assert secret.startswith("rk_test_")
    return secret


def account_settings(sandbox: StripeSandbox, sk: str, **form: Any) -> httpx.Response:
    with sandbox.control(sk) as control:
        return control.post("/_sandbox/account", data=form)


def _draft(client: stripe.StripeClient, **params: Any) -> stripe.Invoice:
    customer = client.v1.customers.create(params={"name": "Contoso", "email": "ap@c.example"})
    return client.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 14,
            **params,
        }
    )


# ---- restricted keys -------------------------------------------------------------------------


def test_restricted_key_acts_on_the_secret_keys_account(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    owner = stripe_sandbox.client(sk)
    product = owner.v1.products.create(params={"name": "Managed endpoint"})
    rk = restricted_key(stripe_sandbox, sk, product="read")
    seen = stripe_sandbox.client(rk).v1.products.list(params={"limit": 1})
    assert [p.id for p in seen.data] == [product.id]


def test_restricted_key_outside_its_permissions_gets_stripes_403(
    stripe_sandbox: StripeSandbox,
) -> None:
    sk = new_key()
    account_id = stripe_sandbox.client(sk).v1.accounts.retrieve_current().id
    rk = restricted_key(stripe_sandbox, sk, product="read", customer="write")
    client = stripe_sandbox.client(rk)
    with pytest.raises(stripe.PermissionError) as refused:
        client.v1.events.list(params={"limit": 1})
    error = refused.value
    assert error.http_status == 403
    assert error.error is not None and error.error.type == "invalid_request_error"
    message = str(error.user_message)
    assert message.startswith("The provided key 'rk_test_")
    assert rk not in message  # redacted, as Stripe does
    assert f"on account '{account_id}'" in message
    assert "Having the 'rak_event_read' permission would allow this request" in message
    # Read does not allow writing.
    with pytest.raises(stripe.PermissionError) as write:
        client.v1.products.create(params={"name": "Nope"})
    assert "'rak_product_write'" in str(write.value.user_message)


def test_write_implies_read(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    rk = restricted_key(stripe_sandbox, sk, customer="write")
    client = stripe_sandbox.client(rk)
    made = client.v1.customers.create(params={"name": "Contoso"})
    assert client.v1.customers.retrieve(made.id).name == "Contoso"
    assert [c.id for c in client.v1.customers.list(params={"limit": 1}).data] == [made.id]
    # An update of an id that does not exist: 404 with the permission, 403 without it.
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.update("cus_doesnotexist", params={"metadata": {"a": "b"}})
    assert missing.value.http_status == 404
    with pytest.raises(stripe.PermissionError):
        client.v1.invoices.update("in_doesnotexist", params={"metadata": {"a": "b"}})


def test_invoice_items_need_the_invoices_permission(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    rk = restricted_key(stripe_sandbox, sk, invoice="read")
    with pytest.raises(stripe.PermissionError) as refused:
        stripe_sandbox.client(rk).v1.invoice_items.create(
            params={"customer": "cus_x", "amount": 100, "currency": "usd"}
        )
    assert "'rak_invoice_write'" in str(refused.value.user_message)


def test_account_is_refused_for_restricted_keys(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    rk = restricted_key(stripe_sandbox, sk, **{name: "write" for name in ("product", "customer")})
    with pytest.raises(stripe.PermissionError) as refused:
        stripe_sandbox.client(rk).v1.accounts.retrieve_current()
    assert refused.value.http_status == 403
    assert "not available for use by restricted keys" in str(refused.value.user_message)
    # The secret key still reads it.
    assert stripe_sandbox.client(sk).v1.accounts.retrieve_current().id.startswith("acct_")


def test_unknown_restricted_key_is_rejected(stripe_sandbox: StripeSandbox) -> None:
    with pytest.raises(stripe.AuthenticationError) as rejected:
        stripe_sandbox.client("rk_test_" + "c" * 32).v1.products.list()
    assert rejected.value.http_status == 401


def test_control_api_takes_the_secret_key_only(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    rk = restricted_key(stripe_sandbox, sk, product="write")
    with stripe_sandbox.control(rk) as control:
        refused = control.post("/_sandbox/restricted_keys", data={"permissions[product]": "write"})
    assert refused.status_code == 403
    with stripe_sandbox.control(sk) as control:
        bad = control.post("/_sandbox/restricted_keys", data={"permissions[products]": "read"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "permissions[products]"
        bad = control.post("/_sandbox/restricted_keys", data={"permissions[product]": "admin"})
        assert bad.status_code == 400


def test_restricted_keys_survive_a_restart(make_sandbox: Any, tmp_path: Any) -> None:
    state = tmp_path / "stripe.json"
    first = make_sandbox("--rate-limit", "0", state=state)
    sk = new_key()
    rk = restricted_key(first, sk, product="write")
    product = first.client(rk).v1.products.create(params={"name": "Kept"})
    assert account_settings(first, sk, country="GB").status_code == 200
    first.process.terminate()
    first.process.wait(timeout=10)
    second = make_sandbox("--rate-limit", "0", state=state)
    assert second.client(rk).v1.products.retrieve(product.id).name == "Kept"
    assert second.client(sk).v1.accounts.retrieve_current().country == "GB"


# ---- the account's settings and payment methods ----------------------------------------------


def test_account_shows_its_country_and_settlement_currency(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    client = stripe_sandbox.client(sk)
    account = client.v1.accounts.retrieve_current()
    assert (account.country, account.default_currency) == ("US", "usd")
    assert account.capabilities.us_bank_account_ach_payments == "active"
    changed = account_settings(stripe_sandbox, sk, country="GB")
    assert changed.status_code == 200, changed.text
    assert changed.json()["payment_methods"] == ["card"]  # ACH is for US accounts only
    account = client.v1.accounts.retrieve_current()
    assert (account.country, account.default_currency) == ("GB", "gbp")
    assert "us_bank_account_ach_payments" not in account.capabilities.to_dict()
    refused = account_settings(stripe_sandbox, sk, **{"payment_methods[]": ["us_bank_account"]})
    assert refused.status_code == 400 and "only to accounts in the US" in refused.text
    assert account_settings(stripe_sandbox, sk, country="XX").status_code == 400


def test_ach_refused_for_a_non_us_account(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    assert account_settings(stripe_sandbox, sk, country="CA").status_code == 200
    client = stripe_sandbox.client(sk)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _draft(client, payment_settings={"payment_method_types": ["card", "us_bank_account"]})
    assert 'The payment method type "us_bank_account" is invalid' in str(refused.value.user_message)
    assert refused.value.param == "payment_settings[payment_method_types]"
    draft = _draft(client, payment_settings={"payment_method_types": ["card"]})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.update(
            draft.id, params={"payment_settings": {"payment_method_types": ["us_bank_account"]}}
        )


def test_ach_refused_when_not_activated(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    only_card = account_settings(stripe_sandbox, sk, **{"payment_methods[]": ["card"]})
    assert only_card.status_code == 200, only_card.text
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _draft(
            stripe_sandbox.client(sk),
            payment_settings={"payment_method_types": ["us_bank_account"]},
        )
    assert "activated in your dashboard" in str(refused.value.user_message)


def _offered(sandbox: StripeSandbox, sk: str, currency: str = "usd") -> list[str]:
    """What the PaymentIntent of a new invoice without payment_method_types offers."""
    client = sandbox.client(sk)
    draft = _draft(client, currency=currency)
    assert draft.payment_settings.payment_method_types is None
    client.v1.invoice_items.create(
        params={
            "customer": draft.customer,
            "invoice": draft.id,
            "amount": 5000,
            "currency": currency,
        }
    )
    client.v1.invoices.finalize_invoice(draft.id)
    with sandbox.control(sk) as control:
        paid = control.post(f"/_sandbox/invoices/{draft.id}/pay", data={"method": "card"})
    assert paid.status_code == 200, paid.text
    intent_id = paid.json()["payments"]["data"][0]["payment"]["payment_intent"]
    return list(client.v1.payment_intents.retrieve(intent_id).payment_method_types)


def test_invoice_offers_the_accounts_activated_methods(stripe_sandbox: StripeSandbox) -> None:
    us = new_key()
    assert _offered(stripe_sandbox, us) == ["card", "us_bank_account"]
    assert _offered(stripe_sandbox, us, "eur") == ["card"]  # ACH Direct Debit is USD only
    card_only = new_key()
    account_settings(stripe_sandbox, card_only, **{"payment_methods[]": ["card"]})
    assert _offered(stripe_sandbox, card_only) == ["card"]
    gb = new_key()
    account_settings(stripe_sandbox, gb, country="GB")
    assert _offered(stripe_sandbox, gb) == ["card"]


def test_hosted_page_offers_no_bank_payment_without_ach(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    account_settings(stripe_sandbox, sk, country="GB")
    client = stripe_sandbox.client(sk)
    draft = _draft(client)
    client.v1.invoice_items.create(
        params={"customer": draft.customer, "invoice": draft.id, "amount": 5000, "currency": "usd"}
    )
    url = client.v1.invoices.finalize_invoice(draft.id).hosted_invoice_url
    page = httpx.get(url)
    assert "Pay by card" in page.text and "Pay by bank" not in page.text
    refused = httpx.post(url + "/ach")
    assert refused.status_code == 400


def test_expanding_needs_read_permission_on_the_expanded_object(
    stripe_sandbox: StripeSandbox,
) -> None:
    sk = new_key()
    owner = stripe_sandbox.client(sk)
    draft = _draft(owner)
    narrow = stripe_sandbox.client(restricted_key(stripe_sandbox, sk, invoice="read"))
    assert narrow.v1.invoices.retrieve(draft.id).customer == draft.customer
    with pytest.raises(stripe.PermissionError) as refused:
        narrow.v1.invoices.retrieve(draft.id, params={"expand": ["customer"]})
    assert "'rak_customer_read'" in str(refused.value.user_message)
    with pytest.raises(stripe.PermissionError):
        narrow.v1.invoices.list(params={"expand": ["data.customer"]})
    wide = stripe_sandbox.client(
        restricted_key(stripe_sandbox, sk, invoice="read", customer="read")
    )
    expanded = wide.v1.invoices.retrieve(draft.id, params={"expand": ["customer"]})
    assert expanded.customer.id == draft.customer


def test_restricted_keys_and_settings_survive_a_reset(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    rk = restricted_key(stripe_sandbox, sk, customer="write")
    assert account_settings(stripe_sandbox, sk, country="GB").status_code == 200
    stripe_sandbox.client(rk).v1.customers.create(params={"name": "Gone after reset"})
    with stripe_sandbox.control(sk) as control:
        assert control.post("/_sandbox/reset").status_code == 200
    assert stripe_sandbox.client(rk).v1.customers.list().data == []
    assert stripe_sandbox.client(sk).v1.accounts.retrieve_current().country == "GB"


def test_coupons_and_meters_have_their_own_permissions(stripe_sandbox: StripeSandbox) -> None:
    """Coupons and billing meters are permissions of their own (not refused outright)."""
    sk = new_key()
    rk = restricted_key(stripe_sandbox, sk, coupon="write", billing_meter="read")
    client = stripe_sandbox.client(rk)
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "once"})
    assert client.v1.coupons.retrieve(coupon.id).percent_off == 10
    with pytest.raises(stripe.PermissionError) as refused:
        client.v1.billing.meters.create(
            params={
                "display_name": "API calls",
                "event_name": "api_call",
                "default_aggregation": {"formula": "sum"},
            }
        )
    assert "'rak_billing_meter_write'" in str(refused.value.user_message)


def test_refunds_disputes_and_payouts_have_their_own_permissions(
    stripe_sandbox: StripeSandbox,
) -> None:
    """Refunds (`rak_refund_*`), disputes (`rak_dispute_*`) and payouts (`rak_payout_*`) are
    permissions of their own: a key with refunds write may refund and list refunds, and is
    refused disputes and payouts, naming the permission."""
    sk = new_key()
    rk = restricted_key(stripe_sandbox, sk, refund="write")
    client = stripe_sandbox.client(rk)
    assert client.v1.refunds.list().data == []
    with pytest.raises(stripe.InvalidRequestError):  # allowed: only the charge is missing
        client.v1.refunds.create(params={"charge": "ch_missing"})
    for call, permission in (
        (lambda: client.v1.disputes.list(), "rak_dispute_read"),
        (lambda: client.v1.payouts.list(), "rak_payout_read"),
    ):
        with pytest.raises(stripe.PermissionError) as refused:
            call()
        assert f"'{permission}'" in str(refused.value.user_message)
    readonly = stripe_sandbox.client(restricted_key(stripe_sandbox, sk, refund="read"))
    with pytest.raises(stripe.PermissionError) as refused:
        readonly.v1.refunds.create(params={"charge": "ch_missing"})
    assert "'rak_refund_write'" in str(refused.value.user_message)
