"""Reading a paid invoice's Stripe fee (`integrations/stripe/fees.py`) against the Stripe
sandbox at the pinned API version: two calls (invoice payments, then the PaymentIntent with
`latest_charge.balance_transaction` expanded), the amounts as the balance transaction has
them; no charge for an invoice paid out of band or by a credit balance; a restricted key with
the documented permissions reads it, one without Balance is refused naming it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integrations.conftest import StripeApp, connect_billing
from integrations.stripe.test_restricted_keys import DOCUMENTED, restricted_key
from integrations.stripe.test_webhook_events import stripe_requests
from regentra.integrations.stripe.client import OrgStripe
from regentra.integrations.stripe.errors import StripePermissionDenied
from regentra.integrations.stripe.fees import NoCharge, StripeFee, read_fee


def _paid(stripe_app: StripeApp, **pay: str) -> tuple[Any, dict[str, Any]]:
    billing = connect_billing(stripe_app)
    sent = billing.sent_invoice()
    with billing.control() as control:
        r = control.post(f"/_sandbox/invoices/{sent['stripe_invoice_id']}/pay", data=pay)
        assert r.status_code == 200, r.text
    return billing, sent


def test_the_fee_is_read_in_two_calls_as_the_balance_transaction_has_it(
    stripe_app: StripeApp,
) -> None:
    billing, sent = _paid(stripe_app)
    client = OrgStripe(org_id=billing.kit.org.id, secret_key=billing.key)
    before = stripe_requests(billing)
    fee = read_fee(client, sent["stripe_invoice_id"])
    assert stripe_requests(billing) - before == 2
    assert isinstance(fee, StripeFee)
    intent = billing.stripe.v1.payment_intents.retrieve(
        fee.payment_intent_id, params={"expand": ["latest_charge.balance_transaction"]}
    )
    txn = intent.latest_charge.balance_transaction
    assert (fee.charge_id, fee.balance_transaction_id) == (intent.latest_charge.id, txn.id)
    assert fee.charge_status == "succeeded"
    assert (fee.amount, fee.currency) == (sent["total"], "USD")
    assert (fee.fee, fee.settlement_currency, fee.exchange_rate) == (txn.fee, "USD", None)
    assert [(p.type, p.amount, p.currency) for p in fee.fee_details] == [
        ("stripe_fee", txn.fee, "USD")
    ]
    assert fee.created is not None and fee.available_on is not None
    assert fee.as_details()["balance_transaction"] == txn.id


def test_an_invoice_paid_out_of_band_has_no_charge(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    sent = billing.sent_invoice()
    billing.stripe.v1.invoices.pay(sent["stripe_invoice_id"], {"paid_out_of_band": True})
    found = read_fee(
        OrgStripe(org_id=billing.kit.org.id, secret_key=billing.key), sent["stripe_invoice_id"]
    )
    assert isinstance(found, NoCharge) and "out" in found.reason


def test_a_gbp_account_settles_a_usd_charge_in_gbp_with_the_rate(stripe_app: StripeApp) -> None:
    from sandbox.stripe.conftest import new_key

    key = new_key()
    with stripe_app.sandbox.control(key) as control:
        assert control.post("/_sandbox/account", data={"country": "GB"}).status_code == 200
    billing = connect_billing(stripe_app, key=key)
    sent = billing.sent_invoice()
    with billing.control() as control:
        control.post(f"/_sandbox/invoices/{sent['stripe_invoice_id']}/pay").raise_for_status()
    fee = read_fee(OrgStripe(org_id=billing.kit.org.id, secret_key=key), sent["stripe_invoice_id"])
    assert isinstance(fee, StripeFee)
    assert (fee.currency, fee.settlement_currency) == ("USD", "GBP")
    assert fee.exchange_rate == Decimal("0.787402")
    assert fee.settled_amount == int(
        (Decimal(sent["total"]) * fee.exchange_rate).quantize(Decimal(1))
    )


@pytest.mark.parametrize("lacking", [None, "balance", "charge"])
def test_a_restricted_key_needs_charges_and_balance_read(
    stripe_app: StripeApp, lacking: str | None
) -> None:
    billing, sent = _paid(stripe_app)
    permissions = {k: v for k, v in DOCUMENTED.items() if k != lacking}
    rk = restricted_key(stripe_app.sandbox, billing.key, permissions)
    client = OrgStripe(org_id=billing.kit.org.id, secret_key=rk)
    if lacking is None:
        assert isinstance(read_fee(client, sent["stripe_invoice_id"]), StripeFee)
        return
    with pytest.raises(StripePermissionDenied):
        read_fee(client, sent["stripe_invoice_id"])
