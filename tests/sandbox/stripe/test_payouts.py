"""Automatic daily payouts, through the real SDK against a sandbox server of the test's own
(the clock moves), with Stripe's rules (README, rules table): what is available by the day's
start is paid out, a payout's contents listed by `?payout=`, a failed payout's funds back."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from sandbox.stripe.shapes import assert_shape
from sandbox.stripe.test_payments import _types
from sandbox.stripe.test_refunds import _paid

DAY = 86400


def test_daily_payouts_of_what_is_available_and_a_failed_one_comes_back(
    make_sandbox: Any,
) -> None:
    box = make_sandbox()
    sk = "sk_test_" + "payouts" * 4
    client = box.client(sk)

    def advance(seconds: int) -> None:
        with box.control(sk) as control:
            moved = control.post("/_sandbox/clock/advance", data={"seconds": seconds})
        assert moved.status_code == 200, moved.text

    def available() -> int:
        return sum(b.amount for b in client.v1.balance.retrieve().available)

    with box.control(sk) as control:
        on = control.post("/_sandbox/payouts/schedule", data={"interval": "daily"})
    assert on.status_code == 200, on.text
    _, first = _paid(box, sk, client)
    _, second = _paid(box, sk, client)
    advance(DAY)  # not available yet (two days for a card payment): no payout
    assert client.v1.payouts.list().data == []
    refund = client.v1.refunds.create(params={"payment_intent": first.id, "amount": 1_000})
    advance(4 * DAY)
    (payout,) = client.v1.payouts.list().data
    fee = first.latest_charge.balance_transaction.fee
    assert payout.id.startswith("po_") and payout.automatic is True
    assert_shape(payout, stripe.Payout)
    assert payout.amount == 2 * (10_000 - fee) - 1_000 and payout.currency == "usd"
    assert payout.status == "paid" and payout.arrival_date == payout.created + DAY
    assert available() == 0
    contents = client.v1.balance_transactions.list(params={"payout": payout.id, "limit": 100})
    by_type = sorted((t.type, t.net) for t in contents.data)
    charge = ("charge", 10_000 - fee)
    assert by_type == sorted([charge, charge, ("refund", -1_000), ("payout", -payout.amount)])
    assert {t.source for t in contents.data} >= {
        first.latest_charge.id,
        second.latest_charge.id,
        refund.id,
        payout.id,
    }
    types = _types(client)
    assert "payout.created" in types and "payout.paid" in types

    with box.control(sk) as control:
        failed = control.post(f"/_sandbox/payouts/{payout.id}/fail", data={})
    assert failed.status_code == 200, failed.text
    back = client.v1.payouts.retrieve(payout.id)
    assert back.status == "failed" and back.failure_code == "account_closed"
    returned = client.v1.balance_transactions.retrieve(str(back.failure_balance_transaction))
    assert (returned.type, returned.amount) == ("payout_failure", payout.amount)
    assert available() == payout.amount
    assert "payout.failed" in _types(client)
    advance(DAY)  # paid out again with the next payout
    newest = client.v1.payouts.list().data[0]
    assert newest.id != payout.id and newest.amount == payout.amount
    assert available() == 0


def test_payouts_are_manual_until_turned_on(
    stripe_sandbox: Any, client: stripe.StripeClient
) -> None:
    """Every sandbox account starts on manual payouts (Stripe's default is daily): balances
    stay as a test leaves them; a payout's contents are listed for automatic payouts only."""
    assert client.v1.payouts.list().data == []
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.balance_transactions.list(params={"payout": "po_missing"})
    assert unknown.value.http_status == 404 and unknown.value.param == "payout"
