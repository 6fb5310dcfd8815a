"""(being written) PaymentIntents, Charges, BalanceTransactions, and paying invoices."""

from __future__ import annotations

from typing import Any, Literal

from regentra.sandbox.stripe.routing import Router
from regentra.sandbox.stripe.state import Account, Sandbox

router = Router()


def pay_invoice(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    *,
    method: Literal["card", "card_declined", "ach"],
) -> dict[str, Any]:
    """Pay an open invoice like a client would; returns the PaymentIntent. (Interface.)"""
    raise NotImplementedError


def settle_invoice(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    *,
    outcome: Literal["succeeded", "failed"],
) -> dict[str, Any]:
    """Settle a processing ACH payment of the invoice; returns the PaymentIntent. (Interface.)"""
    raise NotImplementedError
