"""The account's balance transactions that are not a charge's: refunds, dispute adjustments,
payouts and their failures (a charge's own is `payments._balance_transaction`, with fees)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from regentra.sandbox.stripe.resources import fees
from regentra.sandbox.stripe.state import Account, Sandbox


def record(
    sandbox: Sandbox,
    account: Account,
    *,
    amount: int,
    currency: str,
    type: str,
    reporting_category: str,
    source: str,
    description: str,
    fee: int = 0,
    fee_description: str = "",
    at: int | None = None,
) -> dict[str, Any]:
    """A balance transaction available at once (`at`, default now): `net` is `amount - fee`,
    one `stripe_fee` line when there is a fee."""
    when = sandbox.now() if at is None else at
    fee_details = [
        {
            "amount": fee,
            "application": None,
            "currency": currency,
            "description": fee_description,
            "type": "stripe_fee",
        }
    ]
    txn = sandbox.add(
        account,
        {
            "object": "balance_transaction",
            "amount": amount,
            "available_on": when,
            "balance_type": "payments",
            "created": when,
            "currency": currency,
            "description": description,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": fee_details if fee else [],
            "net": amount - fee,
            "reporting_category": reporting_category,
            "source": source,
            "status": "available",
            "type": type,
        },
    )
    txn.pop("livemode", None)  # a BalanceTransaction has no `livemode`
    return txn


def settled(account: Account, charge: dict[str, Any], amount: int) -> tuple[int, str]:
    """`amount` of the charge's currency in the balance's currency, at the exchange rate of the
    charge's own balance transaction (for a refund or a dispute of it)."""
    txn = account.objects.get(charge["balance_transaction"] or "") or {}
    rate = txn.get("exchange_rate")
    if not rate:
        return amount, charge["currency"]
    target = str(txn["currency"])
    return fees.convert_at(amount, charge["currency"], target, Decimal(str(rate))), target
