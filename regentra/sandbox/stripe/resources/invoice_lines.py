"""Bulk line operations on a draft invoice: `add_lines`, `update_lines`, `remove_lines`
(API 2024-09-30.acacia; docs.stripe.com/invoicing/bulk-update-line-item).

Each takes `lines` (typed by the SDK's `InvoiceAddLinesParams` and friends) and answers the
invoice. A request is all or nothing: every line is checked before any is applied. Stripe
documents no per-call maximum; the sandbox takes at most `MAX_LINES_PER_CALL` (the strict
reading), and never more invoice items on an invoice than Stripe's 250
(`invoice_items.check_room`).
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from regentra.sandbox.stripe import currencies
from regentra.sandbox.stripe.errors import StripeError, invalid_value, missing_parameter
from regentra.sandbox.stripe.resources import invoice_items
from regentra.sandbox.stripe.resources._util import merge_metadata
from regentra.sandbox.stripe.routing import Ctx, Router

router = Router()

MAX_LINES_PER_CALL = 50
# What a new line may say besides how it is priced.
_ITEM_FIELDS = ("description", "discountable", "metadata", "period")
_PRICING = ("amount", "pricing", "price_data")
# Typed by the SDK but not emulated: refused, so a flow relying on them is noticed.
_NOT_EMULATED = ("discounts", "tax_amounts", "tax_rates", "quantity_decimal")


def _draft(ctx: Ctx, verb: str) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    if invoice["status"] != "draft":
        raise StripeError(
            f"You can only {verb} line items on draft invoices; invoice {invoice['id']} is "
            f"{invoice['status']}.",
            code="invoice_not_editable",
        )
    return invoice


def _lines(ctx: Ctx) -> list[dict[str, Any]]:
    lines = ctx.params.get("lines")
    if not lines:
        raise missing_parameter("lines")
    if len(lines) > MAX_LINES_PER_CALL:
        raise StripeError(
            f"You passed {len(lines)} lines; a request can carry at most {MAX_LINES_PER_CALL}. "
            "Split them over several requests.",
            param="lines",
        )
    return list(lines)


def _refuse_not_emulated(line: dict[str, Any], at: str) -> None:
    for name in _NOT_EMULATED:
        if name in line:
            raise StripeError(
                f"The Stripe sandbox does not emulate `{name}` on invoice lines.",
                param=f"{at}[{name}]",
            )
    if "product_data" in (line.get("price_data") or {}):
        raise StripeError(
            "The Stripe sandbox does not emulate `price_data[product_data]`; pass "
            "`price_data[product]`.",
            param=f"{at}[price_data][product_data]",
        )


def _finish(ctx: Ctx, invoice: dict[str, Any]) -> dict[str, Any]:
    if "invoice_metadata" in ctx.params:
        invoice["metadata"] = merge_metadata(invoice["metadata"], ctx.params["invoice_metadata"])
    invoice_items.refresh_totals(invoice, ctx.account)
    return invoice


# ---- add_lines ------------------------------------------------------------------------------


def _check_new_line(ctx: Ctx, invoice: dict[str, Any], line: dict[str, Any], at: str) -> None:
    _refuse_not_emulated(line, at)
    given = [name for name in _PRICING if name in line]
    if "invoice_item" in line:
        extra = [name for name in (*_PRICING, "quantity") if name in line]
        if extra:
            raise StripeError(
                f"`{at}[invoice_item]` assigns an existing invoice item as it is: it cannot be "
                f"combined with `{extra[0]}`.",
                param=f"{at}[{extra[0]}]",
            )
        item = ctx.get("invoiceitem", line["invoice_item"], f"{at}[invoice_item]")
        if item["invoice"] is not None:
            raise StripeError(
                f"Invoice item {item['id']} is already on invoice {item['invoice']}; only an "
                "unassigned invoice item can be added.",
                param=f"{at}[invoice_item]",
            )
        if item["customer"] != invoice["customer"] or item["currency"] != invoice["currency"]:
            raise StripeError(
                f"Invoice item {item['id']} must have the invoice's customer and currency.",
                param=f"{at}[invoice_item]",
            )
        return
    if len(given) != 1:
        raise StripeError(
            f"Each line must have exactly one of `amount`, `pricing[price]`, `price_data` or "
            f"`invoice_item`; {at} has {len(given) or 'none'}.",
            param=f"{at}[amount]",
        )
    if "amount" in line and "quantity" in line:
        raise StripeError(
            "You may only specify one of these parameters: amount, quantity.",
            param=f"{at}[quantity]",
        )
    if line.get("quantity", 1) < 0:
        raise StripeError("Invalid integer: quantity must be >= 0", param=f"{at}[quantity]")
    if "pricing" in line:
        price_id = line["pricing"].get("price")
        if not price_id:
            raise missing_parameter(f"{at}[pricing][price]")
        price = ctx.get("price", price_id, f"{at}[pricing][price]")
        if price["type"] != "one_time":
            raise StripeError(
                f"The price specified ({price_id}) is set to `type=recurring` but this field "
                "only accepts prices with `type=one_time`.",
                param=f"{at}[pricing][price]",
            )
        cur = price["currency"]
    elif "price_data" in line:
        data = line["price_data"]
        if not data.get("product"):
            raise missing_parameter(f"{at}[price_data][product]")
        ctx.get("product", data["product"], f"{at}[price_data][product]")
        if "unit_amount" not in data and "unit_amount_decimal" not in data:
            raise missing_parameter(f"{at}[price_data][unit_amount]")
        cur = str(data["currency"]).lower()
    else:
        cur = invoice["currency"]
    if cur != invoice["currency"]:
        raise StripeError(
            f"The currency of {at} ({cur}) must match the currency of invoice {invoice['id']} "
            f"({invoice['currency']}).",
            param=at,
        )
    # Checked here, before any line is made, so a refused call adds nothing.
    if "amount" in line:
        currencies.check_amount(line["amount"], cur, f"{at}[amount]")
    data = line.get("price_data") or {}
    if data.get("unit_amount") is not None:
        currencies.check_amount(data["unit_amount"], cur, f"{at}[price_data][unit_amount]")


@router.route("POST", "/v1/invoices/{id}/add_lines", "InvoiceAddLinesParams")
def add_lines(ctx: Ctx) -> dict[str, Any]:
    invoice = _draft(ctx, "add")
    lines = _lines(ctx)
    for index, line in enumerate(lines):
        _check_new_line(ctx, invoice, line, f"lines[{index}]")
    assigned = Counter(line["invoice_item"] for line in lines if "invoice_item" in line)
    twice = [item for item, n in assigned.items() if n > 1]
    if twice:
        raise StripeError(f"Invoice item {twice[0]} is given twice.", param="lines")
    invoice_items.check_room(invoice, len(lines), param="lines")
    for line in lines:
        if "invoice_item" in line:
            item = ctx.get("invoiceitem", line["invoice_item"])
            invoice_items.attach_item(ctx.sandbox, ctx.account, item, invoice)
            continue
        params = {
            name: line[name] for name in (*_ITEM_FIELDS, *_PRICING, "quantity") if name in line
        }
        if "amount" in params:
            params["currency"] = invoice["currency"]
        params.update(customer=invoice["customer"], invoice=invoice["id"])
        invoice_items.create_invoice_item(
            Ctx(ctx.sandbox, ctx.account, params, {}, ctx.base_url, ctx.headers)
        )
    return _finish(ctx, invoice)


# ---- update_lines and remove_lines ----------------------------------------------------------


def _line_of(invoice: dict[str, Any], line_id: str, at: str) -> dict[str, Any]:
    for line in invoice["lines"]["data"]:
        if line["id"] == line_id:
            found: dict[str, Any] = line
            return found
    raise StripeError(
        f"Invoice {invoice['id']} has no line item {line_id}.",
        status=404,
        code="resource_missing",
        param=f"{at}[id]",
    )


def _item_of(ctx: Ctx, line: dict[str, Any]) -> dict[str, Any] | None:
    details = line["parent"].get("invoice_item_details") or {}
    if line["parent"]["type"] != "invoice_item_details" or not details.get("invoice_item"):
        return None
    return ctx.sandbox.find(ctx.account, "invoiceitem", details["invoice_item"])


def _unique_ids(lines: list[dict[str, Any]]) -> None:
    counts = Counter(line["id"] for line in lines)
    twice = [line_id for line_id, n in counts.items() if n > 1]
    if twice:
        raise StripeError(f"Line item {twice[0]} is given twice.", param="lines")


@router.route("POST", "/v1/invoices/{id}/update_lines", "InvoiceUpdateLinesParams")
def update_lines(ctx: Ctx) -> dict[str, Any]:
    invoice = _draft(ctx, "update")
    lines = _lines(ctx)
    _unique_ids(lines)
    targets = []
    for index, change in enumerate(lines):
        at = f"lines[{index}]"
        _refuse_not_emulated(change, at)
        for name in ("pricing", "price_data"):
            if name in change:
                raise StripeError(
                    f"The Stripe sandbox does not emulate changing `{name}` of a line.",
                    param=f"{at}[{name}]",
                )
        line = _line_of(invoice, change["id"], at)
        item = _item_of(ctx, line)
        if item is None and set(change) - {"id", "metadata"}:
            raise StripeError(
                f"Line item {line['id']} comes from a subscription: only its `metadata` can be "
                "updated here.",
                param=at,
            )
        if "amount" in change and "quantity" in change:
            raise StripeError(
                "You may only specify one of these parameters: amount, quantity.",
                param=f"{at}[quantity]",
            )
        if change.get("quantity", 1) < 0:
            raise StripeError("Invalid integer: quantity must be >= 0", param=f"{at}[quantity]")
        targets.append((change, line, item))
    for change, line, item in targets:
        if item is None:  # a subscription line: the metadata given replaces it
            line["metadata"] = merge_metadata({}, change["metadata"])
            continue
        if "quantity" in change:
            unit = Decimal(line["pricing"]["unit_amount_decimal"])
            amount = int((unit * change["quantity"]).quantize(Decimal(1), ROUND_HALF_UP))
            for obj in (line, item):
                obj.update(quantity=change["quantity"], quantity_decimal=str(change["quantity"]))
        else:
            amount = change.get("amount", line["amount"])
        for obj in (line, item):
            obj["amount"] = amount
            if "description" in change:
                obj["description"] = change["description"]
            if "period" in change:
                obj["period"] = dict(change["period"])
            if "metadata" in change:
                obj["metadata"] = merge_metadata(obj["metadata"], change["metadata"])
        line["subtotal"] = amount
        item["net_amount"] = amount
        if "discountable" in change:
            line["discountable"] = item["discountable"] = change["discountable"]
        ctx.emit("invoiceitem.updated", item)
    return _finish(ctx, invoice)


@router.route("POST", "/v1/invoices/{id}/remove_lines", "InvoiceRemoveLinesParams")
def remove_lines(ctx: Ctx) -> dict[str, Any]:
    invoice = _draft(ctx, "remove")
    lines = _lines(ctx)
    _unique_ids(lines)
    targets = []
    for index, change in enumerate(lines):
        at = f"lines[{index}]"
        if change["behavior"] not in ("delete", "unassign"):
            raise invalid_value(
                f"{at}[behavior]", f"Invalid {at}[behavior]: must be one of delete or unassign"
            )
        line = _line_of(invoice, change["id"], at)
        item = _item_of(ctx, line)
        if item is None:
            raise StripeError(
                f"Line item {line['id']} comes from a subscription and cannot be removed; "
                "change the subscription instead.",
                param=f"{at}[id]",
            )
        targets.append((change["behavior"], line, item))
    removed = {line["id"] for _, line, _ in targets}
    invoice["lines"]["data"] = [
        line for line in invoice["lines"]["data"] if line["id"] not in removed
    ]
    for behavior, _line, item in targets:
        if behavior == "delete":
            ctx.sandbox.remove(ctx.account, item["id"])
            ctx.emit("invoiceitem.deleted", item)
        else:
            item["invoice"] = None
            ctx.emit("invoiceitem.updated", item, {"invoice": invoice["id"]})
    return _finish(ctx, invoice)
