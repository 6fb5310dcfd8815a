"""The customer's invoice credit balance, and what finalizing an invoice does with it.

docs.stripe.com/billing/customer/balance: a negative balance is a credit, a positive one a
debit; "the invoice balance automatically applies toward the next invoice finalized to a
customer"; "when the amount due on an invoice is less than the minimum chargeable amount the
invoice is marked as paid and the amount owed moved to the invoice balance as a debit".
Balances are kept per currency (`invoice_credit_balance`); the customer's `balance` is the
one in its `currency`, which the first balance transaction sets.
"""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import currencies, listing
from regentra.sandbox.stripe.errors import missing
from regentra.sandbox.stripe.resources._util import merge_metadata
from regentra.sandbox.stripe.resources.discounts import store
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

router = Router()


def _key(customer: dict[str, Any], currency: str) -> str:
    return f"balance:{customer['id']}:{currency}"


def balance_of(account: Account, customer: dict[str, Any], currency: str) -> int:
    """The customer's invoice balance in `currency` (a `balance` set without a currency
    counts in the first currency it is used in)."""
    key = _key(customer, currency)
    if key in account.counters:
        return account.counters[key]
    if customer.get("currency") in (None, currency):
        return int(customer.get("balance") or 0)
    return 0


def _transaction(
    sandbox: Sandbox,
    account: Account,
    customer: dict[str, Any],
    *,
    amount: int,
    currency: str,
    type: str,
    invoice: str | None = None,
    description: str | None = None,
    metadata: Any = None,
) -> dict[str, Any]:
    """Record a balance change and update the customer."""
    ending = balance_of(account, customer, currency) + amount
    account.counters[_key(customer, currency)] = ending
    previous: dict[str, Any] = {}
    if customer.get("currency") is None:
        previous["currency"] = None
        customer["currency"] = currency
    if customer["currency"] == currency and customer.get("balance") != ending:
        previous["balance"] = customer.get("balance")
        customer["balance"] = ending
    txn = store(
        account,
        {
            "id": "cbtxn_" + random_token(),
            "object": "customer_balance_transaction",
            "amount": amount,
            "checkout_session": None,
            "created": sandbox.now(),
            "credit_note": None,
            "currency": currency,
            "customer": customer["id"],
            "customer_account": None,
            "description": description,
            "ending_balance": ending,
            "invoice": invoice,
            "metadata": merge_metadata({}, metadata or {}),
            "type": type,
        },
    )
    if previous:
        sandbox.emit(account, "customer.updated", customer, previous)
    return txn


@router.route(
    "POST", "/v1/customers/{id}/balance_transactions", "CustomerBalanceTransactionCreateParams"
)
def create_balance_transaction(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    customer = ctx.get("customer", ctx.path["id"])
    cur = currencies.check_currency(p["currency"])
    currencies.check_amount(p["amount"], cur, "amount")
    return _transaction(
        ctx.sandbox,
        ctx.account,
        customer,
        amount=p["amount"],
        currency=cur,
        type="adjustment",
        description=p.get("description"),
        metadata=p.get("metadata"),
    )


@router.route(
    "GET",
    "/v1/customers/{id}/balance_transactions/{txn}",
    "CustomerBalanceTransactionRetrieveParams",
)
def retrieve_balance_transaction(ctx: Ctx) -> dict[str, Any]:
    customer = ctx.get("customer", ctx.path["id"])
    txn = ctx.get("customer_balance_transaction", ctx.path["txn"])
    if txn["customer"] != customer["id"]:
        raise missing("customer balance transaction", ctx.path["txn"])
    return txn


@router.route(
    "GET", "/v1/customers/{id}/balance_transactions", "CustomerBalanceTransactionListParams"
)
def list_balance_transactions(ctx: Ctx) -> dict[str, Any]:
    customer = ctx.get("customer", ctx.path["id"])
    items = [
        t
        for t in ctx.sandbox.all(ctx.account, "customer_balance_transaction")
        if t["customer"] == customer["id"]
    ]
    url = f"/v1/customers/{customer['id']}/balance_transactions"
    return listing.page(items, ctx.params, url, kind="customer_balance_transaction")


def apply_at_finalization(sandbox: Sandbox, account: Account, invoice: dict[str, Any]) -> None:
    """Apply the customer's balance to the invoice being finalized (`starting_balance`,
    `amount_due`, `ending_balance`); an amount due below the currency's minimum charge is
    carried to the balance as a debit, and the invoice is then due nothing (paid)."""
    customer = sandbox.find(account, "customer", invoice["customer"])
    cur = invoice["currency"]
    starting = balance_of(account, customer, cur) if customer else 0
    total = invoice["total"]
    due = max(total + starting, 0)
    applied = total - due  # > 0: credit used; < 0: a debit added
    minimum = currencies.minimum_charge(cur)
    too_small = due if minimum is not None and 0 < due < minimum else 0
    due -= too_small
    ending = starting + applied + too_small
    invoice.update(
        starting_balance=starting,
        ending_balance=ending,
        amount_due=due,
        amount_remaining=max(due - invoice.get("amount_paid", 0), 0),
    )
    if customer is None:
        return
    if applied:
        _transaction(
            sandbox,
            account,
            customer,
            amount=applied,
            currency=cur,
            type="applied_to_invoice",
            invoice=invoice["id"],
        )
    if too_small:
        _transaction(
            sandbox,
            account,
            customer,
            amount=too_small,
            currency=cur,
            type="invoice_too_small",
            invoice=invoice["id"],
        )


def set_balance(sandbox: Sandbox, account: Account, customer: dict[str, Any], value: int) -> None:
    """`customers.update(balance=…)`: an adjustment to the new balance, in the customer's
    currency (before it has one, the balance waits for the first invoice's currency)."""
    cur = customer.get("currency")
    if cur is None:
        if customer.get("balance") != value:
            previous = {"balance": customer.get("balance")}
            customer["balance"] = value
            sandbox.emit(account, "customer.updated", customer, previous)
        return
    change = value - balance_of(account, customer, cur)
    if change:
        _transaction(sandbox, account, customer, amount=change, currency=cur, type="adjustment")
