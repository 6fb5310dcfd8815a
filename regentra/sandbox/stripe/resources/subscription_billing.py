"""A subscription's invoices and collection: prorations, period invoices, renewals.

Each period gets an invoice (`subscription_create`, then `subscription_cycle`) with a line
per item and the subscription's pending proration items, finalized and, for
`charge_automatically`, paid through `payments.pay_invoice` with the subscription's
`default_payment_method`, else the customer's `invoice_settings.default_payment_method`. A
clock hook renews subscriptions (and ends those scheduled to end) when
`/_sandbox/clock/advance` moves past a period's end; an `invoice.paid` listener activates
incomplete or past-due subscriptions whose invoices get paid later.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from regentra.sandbox.stripe.resources import billing, invoice_items, payment_methods, payments
from regentra.sandbox.stripe.resources._util import money
from regentra.sandbox.stripe.resources.finalizing import finalize
from regentra.sandbox.stripe.resources.subscription_items import (
    is_live,
    items_of,
    period_end,
    snapshot,
    sync,
)
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

INCOMPLETE_WINDOW = 23 * 3600
TIMES = "\u00d7"  # the multiplication sign of Stripe's line descriptions

# Subscriptions being invoiced synchronously by `bill`: the invoice.paid listener leaves
# them to the code that is changing them.
_IN_FLIGHT: set[str] = set()


# ---- prorations -----------------------------------------------------------------------------
def _proration_item(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    item: dict[str, Any],
    price: dict[str, Any],
    *,
    quantity: int,
    amount: int,
    description: str,
    period: tuple[int, int],
) -> dict[str, Any]:
    """A pending `invoiceitem` (proration) for the subscription's next invoice."""
    ii = sandbox.add(
        account,
        {
            "object": "invoiceitem",
            "amount": amount,
            "currency": price["currency"],
            "customer": sub["customer"],
            "customer_account": None,
            "date": sandbox.now(),
            "description": description,
            "discountable": False,
            "discounts": [],
            "frozen_fields": None,
            "invoice": None,
            "invoicing_rules": None,
            "metadata": {},
            "net_amount": amount,
            "parent": {
                "subscription_details": {
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
                "type": "subscription_details",
            },
            "period": {"end": period[1], "start": period[0]},
            "pricing": {
                "price_details": {"price": price["id"], "product": price["product"]},
                "type": "price_details",
                "unit_amount_decimal": format(
                    (Decimal(amount) / Decimal(quantity or 1)).normalize(), "f"
                ),
            },
            "proration": True,
            "proration_details": {"credited_items": None, "discount_amounts": []},
            "quantity": quantity,
            "quantity_decimal": str(quantity),
            "tax_rates": [],
            "test_clock": None,
        },
    )
    sandbox.emit(account, "invoiceitem.created", ii)
    return ii


def proration(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    item: dict[str, Any],
    price: dict[str, Any],
    quantity: int,
    at: int,
    *,
    credit: bool,
) -> dict[str, Any] | None:
    """A pending proration invoice item for the rest of the item's period (a credit for
    unused time, or a charge for the remaining time)."""
    start, end = item["current_period_start"], item["current_period_end"]
    if quantity == 0 or not start <= at < end:
        return None
    unit = price["unit_amount"] or 0
    amount = round(unit * quantity * (end - at) / (end - start))
    if credit:
        amount = -amount
    product = sandbox.find(account, "product", price["product"]) or {}
    when = datetime.fromtimestamp(at, UTC).strftime("%d %b %Y")
    label = "Unused time" if credit else "Remaining time"
    return _proration_item(
        sandbox,
        account,
        sub,
        item,
        price,
        quantity=quantity,
        amount=amount,
        description=f"{label} on {quantity} {TIMES} {product.get('name', price['id'])} "
        f"after {when}",
        period=(at, end),
    )


def pending_prorations(account: Account, sub_id: str) -> list[dict[str, Any]]:
    """The subscription's pending proration items, oldest first."""
    found = []
    for i in account.order.get("invoiceitem", []):
        ii = account.objects[i]
        details = (ii.get("parent") or {}).get("subscription_details") or {}
        if ii["invoice"] is None and details.get("subscription") == sub_id:
            found.append(ii)
    return found


# ---- the subscription's invoices --------------------------------------------------------
def _item_line(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    sub: dict[str, Any],
    item: dict[str, Any],
) -> None:
    """The invoice line for a subscription item's current period."""
    price = item["price"]
    product = sandbox.find(account, "product", price["product"]) or {}
    recurring = price["recurring"]
    every = recurring["interval"]
    if recurring["interval_count"] != 1:
        every = f"every {recurring['interval_count']} {every}s"
    unit = price["unit_amount"] or 0
    invoice_items.add_line(
        sandbox,
        account,
        invoice,
        amount=unit * item["quantity"],
        description=f"{item['quantity']} {TIMES} {product.get('name', price['id'])} "
        f"(at {money(unit, price['currency'])} / {every})",
        quantity=item["quantity"],
        price=price,
        period={"end": item["current_period_end"], "start": item["current_period_start"]},
        subscription=sub["id"],
        subscription_item=item["id"],
    )


def _proration_line(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    sub: dict[str, Any],
    ii: dict[str, Any],
    *,
    claim: bool = True,
) -> None:
    """Put a pending proration item on the invoice (`claim`: the item is then the invoice's,
    no longer pending; a preview leaves it pending)."""
    if claim:
        ii["invoice"] = invoice["id"]
    price_id = ii["pricing"]["price_details"]["price"]
    invoice_items.add_line(
        sandbox,
        account,
        invoice,
        amount=ii["amount"],
        description=ii["description"],
        quantity=ii["quantity"],
        price=sandbox.find(account, "price", price_id),
        period=ii["period"],
        invoice_item=ii["id"],
        subscription=sub["id"],
        subscription_item=ii["parent"]["subscription_details"]["subscription_item"],
        proration=True,
    )


def _subscription_invoice(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    items: list[dict[str, Any]],
    reason: str,
    period: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The subscription's invoice (built with the billing module): a line per item for its
    current period, its pending prorations, then the customer's other pending items;
    `invoice.created` (with those lines), then finalized."""
    params: dict[str, Any] = {
        "customer": sub["customer"],
        "collection_method": sub["collection_method"],
        "currency": sub["currency"],
        "auto_advance": True,
    }
    if sub["collection_method"] == "send_invoice":
        params["days_until_due"] = sub["days_until_due"] or 0
    if sub["default_payment_method"]:
        params["default_payment_method"] = sub["default_payment_method"]
    if sub["payment_settings"]["payment_method_types"]:
        params["payment_settings"] = {
            "payment_method_types": sub["payment_settings"]["payment_method_types"]
        }
    invoice = billing.new_invoice(
        sandbox,
        account,
        params,
        billing_reason=reason,
        subscription=sub["id"],
        emit_created=False,
    )
    invoice["parent"]["subscription_details"]["metadata"] = copy.deepcopy(sub["metadata"])
    if period is not None:
        # A renewal invoice's period_* is the period that just ended, as on Stripe.
        invoice["period_start"], invoice["period_end"] = period
    for item in items:
        _item_line(sandbox, account, invoice, sub, item)
    for ii in pending_prorations(account, sub["id"]):
        _proration_line(sandbox, account, invoice, sub, ii)
    invoice_items.pull_pending_items(sandbox, account, invoice)
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
    sandbox.emit(account, "invoice.created", invoice)
    credit = invoice["total"]
    finalize(sandbox, account, invoice)
    if credit < 0:
        # A net credit goes to the customer's balance (Stripe's behaviour).
        customer = sandbox.find(account, "customer", sub["customer"])
        if customer is not None:
            customer["balance"] = customer.get("balance", 0) + credit
            invoice["ending_balance"] = customer["balance"]
    return invoice


def preview(sandbox: Sandbox, account: Account, sub: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/invoices/create_preview` for a subscription: the invoice its next renewal
    would make (a line per item for the next period, its pending prorations), built as the
    renewal builds it and kept nowhere; its id starts `upcoming_in_`, as Stripe's. No event."""
    items = items_of(sandbox, account, sub["id"])
    params: dict[str, Any] = {
        "customer": sub["customer"],
        "collection_method": sub["collection_method"],
        "currency": sub["currency"],
    }
    if sub["collection_method"] == "send_invoice":
        params["days_until_due"] = sub["days_until_due"] or 0
    invoice = billing.new_invoice(
        sandbox,
        account,
        params,
        billing_reason="subscription_cycle",
        subscription=sub["id"],
        emit_created=False,
    )
    sandbox.remove(account, invoice["id"])
    invoice["id"] = "upcoming_in_" + random_token()
    invoice["lines"]["url"] = f"/v1/invoices/{invoice['id']}/lines"
    invoice["parent"]["subscription_details"]["metadata"] = copy.deepcopy(sub["metadata"])
    start, end = items[0]["current_period_start"], items[0]["current_period_end"]
    invoice["period_start"], invoice["period_end"], invoice["created"] = start, end, end
    following = period_end(sub["billing_cycle_anchor"], end, items[0]["price"]["recurring"])
    for item in items:
        upcoming = {**item, "current_period_start": end, "current_period_end": following}
        _item_line(sandbox, account, invoice, sub, upcoming)
    for ii in pending_prorations(account, sub["id"]):
        _proration_line(sandbox, account, invoice, sub, ii, claim=False)
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
    customer = sandbox.find(account, "customer", sub["customer"]) or {}
    balance = int(customer.get("balance") or 0)
    due = max(invoice["total"] + balance, 0)
    invoice.update(starting_balance=balance, amount_due=due, amount_remaining=due)
    if sub["collection_method"] == "charge_automatically":
        invoice["next_payment_attempt"] = end
    return invoice


def bill(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    reason: str,
    *,
    items: bool = True,
    period: tuple[int, int] | None = None,
    collect: bool = True,
) -> dict[str, Any]:
    """Invoice the subscription (its items for the current period when `items`, and its
    pending proration items), finalize it, and collect it when `charge_automatically`."""
    _IN_FLIGHT.add(sub["id"])
    try:
        invoice = _subscription_invoice(
            sandbox,
            account,
            sub,
            items_of(sandbox, account, sub["id"]) if items else [],
            reason,
            period,
        )
        sub["latest_invoice"] = invoice["id"]
        if collect and sub["collection_method"] == "charge_automatically":
            _collect(sandbox, account, sub, invoice)
    finally:
        _IN_FLIGHT.discard(sub["id"])
    return account.objects[invoice["id"]]


def _collect(
    sandbox: Sandbox, account: Account, sub: dict[str, Any], invoice: dict[str, Any]
) -> bool:
    """Charge the invoice to the default payment method; True when it ends up paid."""
    if invoice["status"] == "paid":
        return True
    pm = payment_methods.default_of(
        sandbox, account, sub["customer"], sub["default_payment_method"]
    )
    if pm is None:
        return False
    payments.pay_invoice(sandbox, account, invoice, payment_method=pm["id"])
    return bool(account.objects[invoice["id"]]["status"] == "paid")


def invoice_now(sandbox: Sandbox, account: Account, sub: dict[str, Any]) -> None:
    """`always_invoice`: bill the pending prorations right away."""
    if pending_prorations(account, sub["id"]):
        invoice = bill(sandbox, account, sub, "subscription_update", items=False)
        if invoice["status"] != "paid" and sub["collection_method"] == "charge_automatically":
            sub["status"] = "past_due"


# ---- ending and renewing ----------------------------------------------------------------
def cancel(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    *,
    at: int | None = None,
    reason: str = "cancellation_requested",
) -> None:
    """End the subscription now (or at `at`, a past moment the clock has reached)."""
    now = sandbox.now()
    previous = {"status": sub["status"], "ended_at": None, "canceled_at": sub["canceled_at"]}
    sub["status"] = "canceled"
    sub["ended_at"] = at or now
    sub["canceled_at"] = sub["canceled_at"] or now
    sub["cancellation_details"]["reason"] = sub["cancellation_details"]["reason"] or reason
    sandbox.emit(account, "customer.subscription.deleted", sub, previous)


def renew(sandbox: Sandbox, account: Account, sub: dict[str, Any]) -> None:
    """Bring the subscription up to the sandbox clock: one invoice per period passed, and the
    end of subscriptions scheduled to end."""
    now = sandbox.now()
    while True:
        items = items_of(sandbox, account, sub["id"])
        if not items or not is_live(sub):
            return
        if sub["status"] == "incomplete":
            if now >= sub["created"] + INCOMPLETE_WINDOW:
                sub["status"] = "incomplete_expired"
                sub["ended_at"] = sub["created"] + INCOMPLETE_WINDOW
                sandbox.emit(
                    account, "customer.subscription.updated", sub, {"status": "incomplete"}
                )
            return
        end = items[0]["current_period_end"]
        if sub["cancel_at"] and sub["cancel_at"] <= min(now, end):
            cancel(sandbox, account, sub, at=sub["cancel_at"])
            return
        if end > now:
            return
        before = snapshot(sub)
        old_start = items[0]["current_period_start"]
        new_end = period_end(sub["billing_cycle_anchor"], end, items[0]["price"]["recurring"])
        for item in items:
            item["current_period_start"], item["current_period_end"] = end, new_end
        sync(sandbox, account, sub)
        previous: dict[str, Any] = {"items": before, "latest_invoice": sub["latest_invoice"]}
        invoice = bill(sandbox, account, sub, "subscription_cycle", period=(old_start, end))
        if sub["collection_method"] == "charge_automatically":
            status = "active" if invoice["status"] == "paid" else "past_due"
            if status != sub["status"]:
                previous["status"] = sub["status"]
                sub["status"] = status
        sandbox.emit(account, "customer.subscription.updated", sub, previous)


def _on_clock(sandbox: Sandbox) -> None:
    for account in list(sandbox.accounts.values()):
        for sub in sandbox.all(account, "subscription"):
            renew(sandbox, account, sub)


def _on_event(sandbox: Sandbox, account: Account, event: dict[str, Any]) -> None:
    """An invoice of an incomplete or past-due subscription got paid (hosted page, the
    control API, a retry): the subscription becomes active."""
    if event["type"] != "invoice.paid":
        return
    invoice = event["data"]["object"]
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    sub_id = details.get("subscription")
    if not sub_id or sub_id in _IN_FLIGHT:
        return
    sub = account.objects.get(sub_id)
    if sub is None or sub["status"] not in ("incomplete", "past_due", "unpaid"):
        return
    previous = {"status": sub["status"]}
    sub["status"] = "active"
    sandbox.emit(account, "customer.subscription.updated", sub, previous)


def install(sandbox: Sandbox) -> None:
    """Renew on clock moves; activate subscriptions whose invoices get paid later."""
    sandbox.clock_hooks.append(_on_clock)
    sandbox.listeners.append(lambda account, event: _on_event(sandbox, account, event))
