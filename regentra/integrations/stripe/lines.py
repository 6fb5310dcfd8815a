"""Which lines the Stripe invoice gets for one of ours: at most 250, sent 50 at a time.

Stripe refuses the 251st invoice item on an invoice (changelog 2016-02-22), and Regentra
sets no such limit. So the plan is the first of these that fits:

1. one Stripe line per line of ours (the usual case; a catalog or agreement line through
   its catalog item's Stripe price when that price can carry it: `line_prices`);
2. time lines grouped by (ticket, hourly rate);
3. time lines grouped by hourly rate alone.

A time line whose minutes an agreement's included hours cover says so (its amount is for
the rest only; a line covered whole goes as an amount of 0, which Stripe accepts: its
`amount` has no lower bound, a negative one being a credit).

A group's line sums the hours and the amounts of its lines exactly (so Stripe's total is
ours) and says how many entries it holds; a group of one stays that line. Manual, catalog
and agreement lines are never grouped: when even step 3 does not fit, the send is refused
before any Stripe call (`InvoiceTooLongForStripe`). Regentra itself keeps every line.

Every Stripe line carries a stable key in its metadata: `regentra_line_id` for a line of
ours, `regentra_group` for a group. The plan is a pure function of the invoice's lines,
which are frozen once the Stripe invoice exists, so a send resumed after a crash computes
the same keys and only adds the lines Stripe does not have yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from regentra.integrations.stripe.errors import InvoiceTooLongForStripe
from regentra.kit.money import format_money
from regentra.models import Invoice, InvoiceLine, LineKind

MAX_STRIPE_LINES = 250  # invoice items per Stripe invoice (changelog 2016-02-22)
BATCH_SIZE = 50  # lines per `invoices.add_lines` call
LINE_KEY = "regentra_line_id"
GROUP_KEY = "regentra_group"
ENTRIES_KEY = "regentra_entries"
DESCRIPTION_MAX = 500

ItemParams = Callable[[InvoiceLine], dict[str, Any]]


@dataclass(frozen=True)
class StripeLine:
    """One line of the Stripe invoice: `key` recognizes it there again; `params` are an
    `add_lines` line, or (`as_item`) the body of an `invoice_items.create`, for a line with a
    quantity and no Stripe price: an `add_lines` line takes a quantity only with
    `pricing[price]` or `price_data` (which needs a Stripe product, and manual lines have
    none), and `amount` excludes `quantity`; so such lines still cost one call each. A line
    through its catalog item's price (`pricing[price]` + `quantity`) goes by `add_lines`."""

    key: str
    params: dict[str, Any]
    as_item: bool = False


def key_of(metadata: dict[str, Any] | None) -> str | None:
    """The key of a Stripe line (or invoice item) made by `plan`, from its metadata."""
    found = (metadata or {}).get(GROUP_KEY) or (metadata or {}).get(LINE_KEY)
    return str(found) if found else None


def _single(line: InvoiceLine, item_params: ItemParams) -> StripeLine:
    params = item_params(line)
    if "quantity" in params and "pricing" not in params:
        return StripeLine(str(line.id), params, as_item=True)
    params = {name: value for name, value in params.items() if name != "currency"}
    return StripeLine(str(line.id), params)


def _hours(minutes: int) -> str:
    hours = (Decimal(minutes) / Decimal(60)).quantize(Decimal("0.01"))
    return format(hours.normalize(), "f")


def _time_figures(minutes: int, covered: int, rate: int, currency: str) -> str:
    """The hours, as "2 h @ $150.00/h"; with minutes an agreement's included hours cover
    (the line's amount is then only for the rest): "2 h, 1 h covered by the agreement,
    1 h @ $150.00/h", or "2 h, covered by the agreement" when they cover it all."""
    at = f"@ {format_money(rate, currency)}/h"
    if covered <= 0:
        return f"{_hours(minutes)} h {at}"
    if covered >= minutes:
        return f"{_hours(minutes)} h, covered by the agreement"
    return (
        f"{_hours(minutes)} h, {_hours(covered)} h covered by the agreement, "
        f"{_hours(minutes - covered)} h {at}"
    )


def line_description(line: InvoiceLine, currency: str) -> str:
    """What the client reads on the Stripe invoice for one line."""
    if line.kind == LineKind.time.value:
        parts = [
            line.work_date.isoformat() if line.work_date else None,
            line.ticket_title,
            line.technician_name,
            _time_figures(line.minutes or 0, line.covered_minutes or 0, line.unit_amount, currency),
        ]
        text = " · ".join(part for part in parts if part)
        if line.description.strip():
            text += f" — {line.description.strip()}"
    else:
        text = line.description.strip() or "Item"
    return text[:DESCRIPTION_MAX]


def _span(members: Sequence[InvoiceLine]) -> str | None:
    dates = sorted(line.work_date for line in members if line.work_date is not None)
    if not dates:
        return None
    first, last = dates[0].isoformat(), dates[-1].isoformat()
    return first if first == last else f"{first} to {last}"


def _group(
    key: str, members: Sequence[InvoiceLine], invoice: Invoice, item_params: ItemParams
) -> StripeLine:
    rate = format_money(members[0].unit_amount, invoice.currency)
    minutes = sum(line.minutes or 0 for line in members)
    covered = sum(line.covered_minutes or 0 for line in members)
    tickets = {line.ticket_id for line in members}
    if key.startswith("ticket:"):
        head = members[0].ticket_title or "Time"
        count = f"{len(members)} entries"
    else:
        head = f"Time at {rate}/h"
        count = f"{len(members)} entries on {len(tickets)} tickets"
    figures = _time_figures(minutes, covered, members[0].unit_amount, invoice.currency)
    parts = [head, count, _span(members), figures]
    text = " · ".join(part for part in parts if part)[:DESCRIPTION_MAX]
    # Each line's own (vendor-converted) amount, summed: the group is exactly its lines.
    amount = sum(int(item_params(line)["amount"]) for line in members)
    metadata = {
        "regentra_invoice_id": str(invoice.id),
        GROUP_KEY: key,
        ENTRIES_KEY: str(len(members)),
    }
    return StripeLine(key, {"amount": amount, "description": text, "metadata": metadata})


def _grouped(
    lines: Sequence[InvoiceLine],
    invoice: Invoice,
    item_params: ItemParams,
    group_of: Callable[[InvoiceLine], str],
) -> list[StripeLine]:
    """Time lines grouped by `group_of`, in the order of each group's first line; other
    lines as they are."""
    groups: dict[str, list[InvoiceLine]] = {}
    order: list[tuple[str, InvoiceLine | None]] = []
    for line in lines:
        if line.kind != LineKind.time.value:
            order.append((str(line.id), line))
            continue
        key = group_of(line)
        if key not in groups:
            groups[key] = []
            order.append((key, None))
        groups[key].append(line)
    planned = []
    for key, single in order:
        if single is not None:
            planned.append(_single(single, item_params))
        elif len(groups[key]) == 1:
            planned.append(_single(groups[key][0], item_params))
        else:
            planned.append(_group(key, groups[key], invoice, item_params))
    return planned


def _by_ticket_and_rate(line: InvoiceLine) -> str:
    return f"ticket:{line.ticket_id or 'none'}:rate:{line.unit_amount}"


def _by_rate(line: InvoiceLine) -> str:
    return f"rate:{line.unit_amount}"


def plan(
    lines: Sequence[InvoiceLine], *, invoice: Invoice, item_params: ItemParams
) -> list[StripeLine]:
    """The Stripe lines for `lines` (see the module's docstring), or `InvoiceTooLongForStripe`."""
    if len(lines) <= MAX_STRIPE_LINES:
        return [_single(line, item_params) for line in lines]
    planned: list[StripeLine] = []
    for group_of in (_by_ticket_and_rate, _by_rate):
        planned = _grouped(lines, invoice, item_params, group_of)
        if len(planned) <= MAX_STRIPE_LINES:
            return planned
    others = sum(1 for line in lines if line.kind != LineKind.time.value)
    raise InvoiceTooLongForStripe(
        f"invoice {invoice.number} needs {len(planned)} lines on Stripe even with its time "
        f"grouped by rate ({others} manual, catalog or agreement lines, which are never "
        f"grouped), and a Stripe invoice holds at most {MAX_STRIPE_LINES}: move some of those "
        "lines to another invoice, then send it again"
    )


def batches(planned: Iterable[StripeLine]) -> list[list[StripeLine]]:
    """`planned` in `add_lines` calls of at most `BATCH_SIZE` lines."""
    items = list(planned)
    return [items[start : start + BATCH_SIZE] for start in range(0, len(items), BATCH_SIZE)]
