"""Disputes of a card payment, through the real SDK against the sandbox server, with Stripe's
rules (README, rules table): the withdrawal with the dispute fee, test-mode evidence that
wins or loses, closing, the charge no longer refundable, the events."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from sandbox.stripe.shapes import assert_shape
from sandbox.stripe.test_payments import _types
from sandbox.stripe.test_refunds import _available, _paid


def _dispute(stripe_sandbox: Any, sk: str, charge_id: str, **form: str) -> Any:
    with stripe_sandbox.control(sk) as control:
        opened = control.post(f"/_sandbox/charges/{charge_id}/dispute", data=form)
    assert opened.status_code == 200, opened.text
    return opened.json()


def test_a_dispute_withdraws_the_amount_and_fee_and_winning_evidence_reinstates_it(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    _, intent = _paid(stripe_sandbox, sk, client)
    charge = intent.latest_charge
    before = _available(client)
    opened = _dispute(stripe_sandbox, sk, charge.id, reason="fraudulent")
    dispute = client.v1.disputes.retrieve(opened["id"])
    assert dispute.id.startswith("du_") and dispute.status == "needs_response"
    assert dispute.amount == 10_000 and dispute.charge == charge.id
    assert dispute.payment_intent == intent.id and dispute.reason == "fraudulent"
    assert dispute.evidence_details.due_by > dispute.created
    assert_shape(dispute, stripe.Dispute)
    (withdrawal,) = dispute.balance_transactions
    assert (withdrawal.type, withdrawal.reporting_category) == ("adjustment", "dispute")
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-10_000, 1_500, -11_500)
    assert withdrawal.description == f"Chargeback withdrawal for {charge.id}"
    assert _available(client) == before - 11_500
    assert client.v1.charges.retrieve(charge.id).disputed is True
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"charge": charge.id})
    assert refused.value.code == "charge_disputed"

    won = client.v1.disputes.update(
        dispute.id, params={"evidence": {"uncategorized_text": "winning_evidence"}}
    )
    assert won.status == "won" and won.evidence_details.submission_count == 1
    reinstated = won.balance_transactions[1]
    assert (reinstated.reporting_category, reinstated.amount, reinstated.fee) == (
        "dispute_reversal",
        10_000,
        0,
    )
    assert _available(client) == before - 1_500  # the dispute fee is kept
    types = _types(client)
    for wanted in (
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
    ):
        assert wanted in types
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.disputes.close(dispute.id)


def test_losing_evidence_closing_and_the_networks_decision(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    disputes = []
    for _ in range(3):
        _, intent = _paid(stripe_sandbox, sk, client)
        disputes.append(_dispute(stripe_sandbox, sk, intent.latest_charge.id)["id"])
    lost = client.v1.disputes.update(
        disputes[0], params={"evidence": {"uncategorized_text": "losing_evidence"}}
    )
    assert lost.status == "lost" and len(lost.balance_transactions) == 1
    accepted = client.v1.disputes.close(disputes[1])
    assert accepted.status == "lost"
    reviewed = client.v1.disputes.update(
        disputes[2], params={"evidence": {"product_description": "Managed IT, November"}}
    )
    assert reviewed.status == "under_review"
    assert reviewed.evidence.product_description == "Managed IT, November"
    with stripe_sandbox.control(sk) as control:
        decided = control.post(f"/_sandbox/disputes/{disputes[2]}/decide", data={"outcome": "won"})
    assert decided.status_code == 200 and decided.json()["status"] == "won"
    listed = client.v1.disputes.list(params={"limit": 10}).data
    assert sorted(d.id for d in listed) == sorted(disputes)
    assert _types(client).count("charge.dispute.closed") == 3
