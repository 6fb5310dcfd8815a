"""What Stripe collected for a paid invoice, and what it kept: the fee, at the pinned API
version, in two calls.

1. `GET /v1/invoice_payments?invoice=<id>`: the invoice's payments; the paid one that is a
   PaymentIntent names it (`payment.payment_intent`). Since API version 2025-03-31 (basil)
   an invoice no longer carries `payment_intent`/`charge`: the InvoicePayment is the link.
2. `GET /v1/payment_intents/<id>?expand[]=latest_charge.balance_transaction`: the amount
   received, the charge and its balance transaction (two levels: within Stripe's four).

The balance transaction is in the account's settlement currency: `amount`, `fee`, `net` and
every `fee_details` entry are in it, and `exchange_rate` (settlement units per unit of the
charge's currency) is set when the charge's currency differs. A restricted key needs
Invoices, PaymentIntents, Charges and Balance read permissions (an expanded object needs its
own: see `permissions.REQUIRED`).

An invoice paid with no charge (out of band, or wholly by the customer's credit balance) has
no paid PaymentIntent: `NoCharge` says why. A charge whose balance transaction is not there
yet (a bank payment not settled) is `FeePending`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from regentra.integrations.stripe.amounts import from_stripe
from regentra.integrations.stripe.client import OrgStripe


@dataclass(frozen=True)
class FeePart:
    """One `fee_details` entry, in our minor units of its currency."""

    type: str
    amount: int
    currency: str  # upper-case ISO
    description: str


@dataclass(frozen=True)
class StripeFee:
    """A paid invoice's Stripe payment and its fee (amounts in our minor units)."""

    payment_intent_id: str
    charge_id: str
    charge_status: str
    amount: int  # collected, in `currency` (the invoice's)
    currency: str
    balance_transaction_id: str
    fee: int  # in `settlement_currency`
    fee_details: tuple[FeePart, ...]
    settlement_currency: str
    settled_amount: int  # `amount` converted into the settlement currency
    exchange_rate: Decimal | None  # settlement units per one unit of `currency`
    paid_at: datetime | None  # the charge's creation
    created: datetime | None  # the balance transaction's
    available_on: datetime | None

    def as_details(self) -> dict[str, Any]:
        """What a posting row keeps of it (JSON)."""
        return {
            "payment_intent": self.payment_intent_id,
            "charge": self.charge_id,
            "balance_transaction": self.balance_transaction_id,
            "settlement_currency": self.settlement_currency,
            "exchange_rate": str(self.exchange_rate) if self.exchange_rate is not None else None,
            "fee": self.fee,
            "fee_details": [
                {"type": p.type, "amount": p.amount, "currency": p.currency}
                for p in self.fee_details
            ],
        }


@dataclass(frozen=True)
class NoCharge:
    """The invoice was paid without a Stripe charge; `reason` says how."""

    reason: str
    payment_intent_id: str | None = None


@dataclass(frozen=True)
class FeePending:
    """There is a charge but no balance transaction yet (a bank payment settling)."""

    reason: str
    payment_intent_id: str | None = None
    charge_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def _paid_intent(payments: list[dict[str, Any]]) -> str | None:
    for payment in payments:
        ref = payment.get("payment") or {}
        if payment.get("status") == "paid" and ref.get("type") == "payment_intent":
            intent = ref.get("payment_intent")
            if isinstance(intent, dict):
                intent = intent.get("id")
            if isinstance(intent, str) and intent:
                return intent
    return None


def _payments_of(stripe: OrgStripe, stripe_invoice_id: str) -> list[dict[str, Any]]:
    return list(
        stripe.iterate(
            lambda c: c.v1.invoice_payments.list(
                params={"invoice": stripe_invoice_id, "limit": 100}
            ),
            op="invoice_payments.list",
        )
    )


def paid_intent(stripe: OrgStripe, stripe_invoice_id: str) -> str | None:
    """The PaymentIntent that paid the invoice (step 1 above), or None (paid without one)."""
    return _paid_intent(_payments_of(stripe, stripe_invoice_id))


def read_fee(stripe: OrgStripe, stripe_invoice_id: str) -> StripeFee | NoCharge | FeePending:
    """The paid invoice's payment and fee (see the module doc). Raises the client's errors
    (`StripeUnavailable` is transient)."""
    payments = _payments_of(stripe, stripe_invoice_id)
    intent_id = _paid_intent(payments)
    if intent_id is None:
        if any(p.get("status") == "paid" for p in payments):
            return NoCharge("paid in Stripe without a card or bank payment (out of band)")
        return NoCharge(
            "no Stripe payment: the invoice was paid outside Stripe or by the customer's "
            "credit balance"
        )
    intent = stripe.call(
        lambda c: c.v1.payment_intents.retrieve(
            intent_id, params={"expand": ["latest_charge.balance_transaction"]}
        ),
        op="payment_intents.retrieve",
    ).to_dict()
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict):
        return NoCharge("the Stripe payment has no charge", payment_intent_id=intent_id)
    txn = charge.get("balance_transaction")
    if not isinstance(txn, dict):
        return FeePending(
            f"the charge {charge.get('id')} has no balance transaction yet (not settled)",
            payment_intent_id=intent_id,
            charge_id=str(charge.get("id")),
        )
    currency = str(intent.get("currency") or charge.get("currency")).lower()
    received = intent.get("amount_received") or charge.get("amount_captured") or 0
    settlement = str(txn["currency"]).lower()
    rate = txn.get("exchange_rate")
    parts = tuple(
        FeePart(
            type=str(d.get("type") or "stripe_fee"),
            amount=from_stripe(int(d["amount"]), str(d.get("currency") or settlement)),
            currency=str(d.get("currency") or settlement).upper(),
            description=str(d.get("description") or "Stripe fee"),
        )
        for d in txn.get("fee_details") or []
        if int(d.get("amount") or 0) != 0
    )
    return StripeFee(
        payment_intent_id=intent_id,
        charge_id=str(charge["id"]),
        charge_status=str(charge.get("status")),
        amount=from_stripe(int(received), currency),
        currency=currency.upper(),
        balance_transaction_id=str(txn["id"]),
        fee=from_stripe(int(txn.get("fee") or 0), settlement),
        fee_details=parts,
        settlement_currency=settlement.upper(),
        settled_amount=from_stripe(int(txn.get("amount") or 0), settlement),
        exchange_rate=Decimal(str(rate)) if rate not in (None, "") else None,
        paid_at=_epoch(charge.get("created")),
        created=_epoch(txn.get("created")),
        available_on=_epoch(txn.get("available_on")),
    )
