"""Refunds of an invoice's payment, through the real SDK against the sandbox server, with
Stripe's rules (README, rules table): partial and full, what is left, the enum of reasons,
the balance and the charge following, the fee kept, the events."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from sandbox.stripe.shapes import assert_shape
from sandbox.stripe.test_payments import _control, _intent_of, _open_invoice, _types


def _paid(stripe_sandbox: Any, sk: str, client: stripe.StripeClient, method: str = "card") -> Any:
    invoice = _open_invoice(client, 10_000)
    paid = _control(stripe_sandbox, sk, invoice.id, "pay", method=method)
    assert paid.status_code == 200, paid.text
    if method == "ach":
        settled = _control(stripe_sandbox, sk, invoice.id, "settle", outcome="succeeded")
        assert settled.status_code == 200, settled.text
    return invoice, _intent_of(client, invoice.id)


def _available(client: stripe.StripeClient) -> int:
    balance = client.v1.balance.retrieve()
    return sum(b.amount for b in balance.available) + sum(b.amount for b in balance.pending)


def test_partial_then_full_refund_of_a_card_payment(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    invoice, intent = _paid(stripe_sandbox, sk, client)
    charge = intent.latest_charge
    before = _available(client)
    partial = client.v1.refunds.create(
        params={
            "payment_intent": intent.id,
            "amount": 2_500,
            "reason": "requested_by_customer",
            "metadata": {"regentra_refund_id": "r1"},
        }
    )
    assert partial.id.startswith("re_") and partial.object == "refund"
    assert partial.status == "succeeded" and partial.amount == 2_500
    assert partial.charge == charge.id and partial.payment_intent == intent.id
    assert partial.reason == "requested_by_customer"
    assert partial.metadata.to_dict() == {"regentra_refund_id": "r1"}
    assert_shape(partial, stripe.Refund)
    txn = client.v1.balance_transactions.retrieve(str(partial.balance_transaction))
    assert (txn.type, txn.reporting_category, txn.amount, txn.fee, txn.net) == (
        "refund",
        "refund",
        -2_500,
        0,
        -2_500,
    )
    assert txn.source == partial.id
    assert _available(client) == before - 2_500  # the original fee is not returned
    after = client.v1.charges.retrieve(charge.id)
    assert after.amount_refunded == 2_500 and after.refunded is False
    # Two equal partial refunds are two refunds; the rest, then nothing is left.
    second = client.v1.refunds.create(params={"charge": charge.id, "amount": 2_500})
    assert second.id != partial.id
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 5_001})
    assert too_much.value.param == "amount" and too_much.value.code is None
    assert "Refund amount ($50.01) is greater than unrefunded amount on charge ($50.00)" in str(
        too_much.value.user_message
    )
    rest = client.v1.refunds.create(params={"charge": charge.id})
    assert rest.amount == 5_000
    full = client.v1.charges.retrieve(charge.id)
    assert full.amount_refunded == 10_000 and full.refunded is True
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 1})
    assert again.value.code == "charge_already_refunded"
    assert f"Charge {charge.id} has already been refunded." in str(again.value.user_message)
    # The invoice stays paid; listing by charge; the events.
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    listed = client.v1.refunds.list(params={"charge": charge.id}).data
    assert [r.id for r in listed] == [rest.id, second.id, partial.id]
    types = _types(client)
    assert types.count("refund.created") == 3 and types.count("charge.refunded") == 3


def test_refund_requests_stripe_refuses(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    _, intent = _paid(stripe_sandbox, sk, client)
    with pytest.raises(stripe.InvalidRequestError) as nothing:
        client.v1.refunds.create(params={"amount": 100})
    assert "payment_intent or charge" in str(nothing.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as reason:
        client.v1.refunds.create(
            params={"charge": intent.latest_charge.id, "reason": "changed_mind"}  # type: ignore[typeddict-item]
        )
    assert reason.value.param == "reason"
    assert "must be one of duplicate, fraudulent, or requested_by_customer" in str(
        reason.value.user_message
    )
    with pytest.raises(stripe.InvalidRequestError) as zero:
        client.v1.refunds.create(params={"charge": intent.latest_charge.id, "amount": 0})
    assert zero.value.param == "amount"


def test_an_ach_refund_is_pending_until_it_settles(
    make_sandbox: Any,
) -> None:
    """An ACH refund is `pending` at first (the money leaves the balance at once) and
    succeeds days later (`refund.updated`); its own sandbox, since the clock moves."""
    box = make_sandbox()
    sk = "sk_test_" + "ach" * 8
    client = box.client(sk)
    _, intent = _paid(box, sk, client, method="ach")
    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 4_000})
    assert refund.status == "pending"
    with box.control(sk) as control:
        assert (
            control.post("/_sandbox/clock/advance", data={"seconds": 3 * 86400}).status_code == 200
        )
    assert client.v1.refunds.retrieve(refund.id).status == "succeeded"
    assert "refund.updated" in _types(client)


def test_a_pending_bank_refund_can_fail_and_its_money_comes_back(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    """The client's bank refuses a pending (ACH) refund: `failed` with a `failure_reason`,
    its amount back in the balance (a `refund_failure` balance transaction, the refund's
    `failure_balance_transaction`), the charge refundable again; `refund.failed`."""
    _, intent = _paid(stripe_sandbox, sk, client, method="ach")
    before = _available(client)
    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 4_000})
    assert refund.status == "pending" and _available(client) == before - 4_000
    with stripe_sandbox.control(sk) as control:
        failed = control.post(f"/_sandbox/refunds/{refund.id}/fail", data={})
        assert failed.status_code == 200, failed.text
        again = control.post(f"/_sandbox/refunds/{refund.id}/fail", data={})
        assert again.status_code == 400 and "only a pending one" in again.text
    refund = client.v1.refunds.retrieve(
        refund.id, params={"expand": ["failure_balance_transaction"]}
    )
    assert (refund.status, refund.failure_reason) == ("failed", "declined")
    back = refund.failure_balance_transaction
    assert (back.type, back.amount, back.fee) == ("refund_failure", 4_000, 0)
    assert _available(client) == before
    charge = client.v1.charges.retrieve(intent.latest_charge.id)
    assert charge.amount_refunded == 0 and charge.refunded is False
    assert {"refund.failed", "refund.updated"} <= set(_types(client))
    _, card_intent = _paid(stripe_sandbox, sk, client)
    done = client.v1.refunds.create(params={"payment_intent": card_intent.id, "amount": 100})
    with stripe_sandbox.control(sk) as control:
        refused = control.post(f"/_sandbox/refunds/{done.id}/fail", data={})
    assert refused.status_code == 400 and "succeeded" in refused.text
