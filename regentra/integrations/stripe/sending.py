"""Send an invoice through the org's Stripe account, and void it there.

Sending is a few Stripe calls, each with a deterministic idempotency key, and every step is
also *found again* on a retry. So a send that stopped at any step (a crash, a timeout, Stripe
down) is finished by sending again, even days later when Stripe has forgotten the keys (it
keeps them about 24 h), and nothing is created twice:

1. the client's Customer (`customers.ensure_customer`: found again or made, and stored on
   the client);
2. the Stripe invoice, created first (a draft with `auto_advance=false`, so Stripe never
   finalizes a half-built one, and no pending items pulled in): the stored one, else a draft
   of this customer carrying our invoice id in its metadata, else a new one. Its id is
   committed at once, which freezes our draft (`invoices.service._editable_draft`);
3. its lines, planned by `lines.plan` (one per line of ours, or time grouped when there are
   more than Stripe's 250) and added through `invoices.add_lines`, 50 a call: the items
   already on it are listed and matched by their key (metadata `regentra_line_id`, or
   `regentra_group` for a group); only the missing ones are added;
4. Stripe's total must equal ours (else nothing is finalized); then finalize (skipped once it
   is no longer a draft); the finalized invoice's `total` and `amount_due` must be ours, a
   credit balance in Stripe aside (`totals.check_finalized`); then send;
5. `invoices.transitions.mark_sent` with the Stripe id, hosted page and due date (it writes the
   "invoice.sent" audit entry).

No database transaction is open while Stripe answers (SQLite takes its write lock at BEGIN):
like `settings.save_keys`, the flow commits before each network call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.orm import Session

from regentra.audit.service import Actor
from regentra.billing import service as billing
from regentra.clients.service import clients
from regentra.errors import Conflict, NotFound, RegentraError
from regentra.integrations.stripe import client as stripe_client
from regentra.integrations.stripe import line_prices, payment_methods, totals
from regentra.integrations.stripe import lines as stripe_lines
from regentra.integrations.stripe.amounts import amount_of, from_stripe, to_stripe, unit_to_stripe
from regentra.integrations.stripe.client import (
    OrgStripe,
    fingerprint,
    idempotency_key,
    post,
    request_options,
)
from regentra.integrations.stripe.customers import ensure_customer
from regentra.integrations.stripe.errors import (
    InvoicePaidInStripe,
    StripeInvalidRequest,
    StripeInvoiceClosed,
    StripeInvoiceNumberTaken,
    StripeTotalMismatch,
)
from regentra.integrations.stripe.handlers import from_epoch
from regentra.invoices import service, transitions
from regentra.invoices.errors import (
    InvoiceCurrencyNotCharged,
    InvoiceEmpty,
    InvoiceNotDraft,
    InvoiceVoid,
    InvoiceZeroTotal,
    SendInProgress,
)
from regentra.kit.currencies import stripe_supports
from regentra.kit.money import format_money
from regentra.kit.time import utcnow
from regentra.models import Invoice, InvoiceLine, InvoiceStatus, LineKind, Org, User

log = structlog.get_logger(__name__)

SEND_OP = "invoice-send"
VOID_OP = "invoice-void"


# ---- small helpers ----------------------------------------------------------------------------


_dict = stripe_client.as_dict


def _fresh(
    session: Session, *, org_id: uuid.UUID, invoice_id: uuid.UUID, lock: bool = False
) -> Invoice | None:
    """The invoice as the database has it now (the session keeps objects across commits)."""
    stmt = (
        service.invoices.select(org_id)
        .where(Invoice.id == invoice_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def _due_date(epoch: Any, org: Org) -> date | None:
    if not isinstance(epoch, int):
        return None
    return datetime.fromtimestamp(epoch, tz=ZoneInfo(org.timezone)).date()


def payment_method_types(currency: str, offered: list[str]) -> list[str]:
    """The org's offered methods (`payment_methods.offered`) that fit the invoice's currency:
    ACH (`us_bank_account`) on USD invoices only."""
    return payment_methods.for_invoice(offered, currency)


def _item_params(line: InvoiceLine, invoice: Invoice, price: str | None = None) -> dict[str, Any]:
    """A Stripe line for one of ours: through `price` (its catalog item's Stripe price, when
    `line_prices` found it can carry the line), else quantity x unit when exact, else an
    amount."""
    metadata = {"regentra_invoice_id": str(invoice.id), "regentra_line_id": str(line.id)}
    if line.time_entry_id is not None:
        metadata["regentra_time_entry_id"] = str(line.time_entry_id)
    params: dict[str, Any] = {
        "currency": invoice.currency.lower(),
        "description": stripe_lines.line_description(line, invoice.currency),
        "metadata": metadata,
    }
    currency = invoice.currency
    exact = line.amount == line.unit_amount * line.quantity  # else rounded (three-decimal)
    if price is not None:
        # Stripe computes quantity x the price's unit amount: exactly ours (`line_prices`).
        params.update(pricing={"price": price}, quantity=line.quantity)
    elif line.kind != LineKind.time.value and line.quantity > 1 and exact:
        # Stripe shows the quantity and unit price; the amount is their exact product.
        params.update(
            quantity=line.quantity, unit_amount_decimal=unit_to_stripe(line.unit_amount, currency)
        )
    else:
        params["amount"] = to_stripe(line.amount, currency)
    return params


def _invoice_description(invoice: Invoice) -> str:
    text = f"Invoice {invoice.number}"
    start, end = invoice.period_start, invoice.period_end
    if start and end:
        text += f" for work from {start.isoformat()} to {end.isoformat()}"
    elif start:
        text += f" for work from {start.isoformat()}"
    elif end:
        text += f" for work up to {end.isoformat()}"
    memo = invoice.memo.strip()
    return f"{text}\n\n{memo}" if memo else text


def _invoice_params(invoice: Invoice, *, customer_id: str, methods: list[str]) -> dict[str, Any]:
    return {
        "customer": customer_id,
        "collection_method": "send_invoice",
        "days_until_due": invoice.days_until_due,
        # The client reads one number on the email, the hosted page and the PDF: ours.
        "number": invoice.number,
        "currency": invoice.currency.lower(),
        "auto_advance": False,
        "pending_invoice_items_behavior": "exclude",
        "discounts": "",  # never inherit the customer's coupon (see `totals`)
        "payment_settings": {
            "payment_method_types": payment_method_types(invoice.currency, methods)
        },
        "description": _invoice_description(invoice),
        "metadata": {
            "regentra_org_id": str(invoice.org_id),
            "regentra_invoice_id": str(invoice.id),
            "regentra_invoice_number": invoice.number,
        },
    }


# ---- send -------------------------------------------------------------------------------------


def _check_sendable(invoice: Invoice, lines: list[InvoiceLine]) -> None:
    status = invoice.status
    if status != InvoiceStatus.draft.value:
        if status == InvoiceStatus.void.value:
            why = "is void and cannot be sent: generate a new invoice to bill this time"
        elif status == InvoiceStatus.paid.value:
            why = "is already paid"
        else:
            why = f"was already sent ({status})"
        raise InvoiceNotDraft(f"invoice {invoice.number} {why}")
    if not stripe_supports(invoice.currency):
        raise InvoiceCurrencyNotCharged(
            f"invoice {invoice.number} is in {invoice.currency}, a currency Stripe cannot charge "
            "in (see docs.stripe.com/currencies): change the client's currency, then void this "
            "invoice and generate a new one."
        )
    if not lines:
        raise InvoiceEmpty(f"invoice {invoice.number} has no lines: add a line before sending it")
    if invoice.total <= 0:
        raise InvoiceZeroTotal(
            f"invoice {invoice.number} totals {format_money(invoice.total, invoice.currency)}: "
            "there is nothing to charge. Add a line, or delete the draft."
        )
    totals.check_minimum(invoice)


def send(session: Session, *, org: Org, user: User, invoice_id: uuid.UUID) -> Invoice:
    """Draft → sent through Stripe (409 `stripe_not_connected` when Stripe is not
    connected; 409 `subscription_required` when the org's trial is over without a Regentra
    subscription, or its subscription is canceled: `billing.service`). Crash-safe: every
    Stripe call carries a deterministic idempotency key, and a retry finds what an earlier
    attempt made (see the module's docstring)."""
    invoice = service.get(session, org_id=org.id, invoice_id=invoice_id)
    billing.require_can_send(session, org)  # the org's own Regentra subscription
    lines = service.lines_of(session, invoice)
    _check_sendable(invoice, lines)
    stripe = stripe_client.for_org(session, org.id)
    customer = clients.get(session, org_id=org.id, id=invoice.client_id)
    methods = payment_methods.offered_for_org(session, org_id=org.id)
    # Hold no database lock while Stripe answers, nor while the lines are written for it (on
    # SQLite every transaction holds the one write lock: four senders queued behind it).
    prices = _prices(session, invoice, lines)
    session.commit()
    _plan(lines, invoice, prices)  # too long for Stripe: refused here, before any Stripe call

    customer_id = ensure_customer(session, stripe, org=org, client=customer)
    found, fresh = _stripe_invoice(
        session, stripe, invoice=invoice, customer_id=customer_id, methods=methods
    )
    sid = str(found["id"])
    # The draft is frozen from here on: read its lines and total as they now are.
    current = _fresh(session, org_id=org.id, invoice_id=invoice.id)
    if current is None:
        raise NotFound("invoice not found")
    if current.status != InvoiceStatus.draft.value:
        session.commit()
        if current.status == InvoiceStatus.void.value:
            raise InvoiceVoid(f"invoice {current.number} was voided while it was being sent")
        return current  # another request finished sending it
    lines = service.lines_of(session, current)
    total = current.total
    prices = _prices(session, current, lines)
    session.commit()
    planned = _plan(lines, current, prices)

    if found["status"] == "draft":
        totals.check_draft(current, sid=sid, found=found, total=total)
        stripe_total = _add_items(
            stripe,
            invoice=current,
            sid=sid,
            customer_id=str(found["customer"]),
            planned=planned,
            fresh=fresh,
        )
        _check_total(current, sid=sid, stripe_total=stripe_total, total=total)
        found = _call(
            stripe,
            lambda c: post(
                c,
                f"/v1/invoices/{sid}/finalize",
                {"auto_advance": False},
                idempotency_key(SEND_OP, f"{current.id}:{sid}:finalize"),
            ),
            op="invoices.finalize_invoice",
        )
    status = found["status"]
    amount_due = total
    if status in ("open", "paid"):  # Stripe's total and amount due are ours (`totals`)
        amount_due = totals.check_finalized(current, sid=sid, found=found, total=total)
    if status == "open":
        found = _call(
            stripe,
            lambda c: post(
                c,
                f"/v1/invoices/{sid}/send",
                None,
                idempotency_key(SEND_OP, f"{current.id}:{sid}:send"),
            ),
            op="invoices.send_invoice",
        )
    elif status != "paid":  # void or uncollectible: changed in Stripe meanwhile
        raise StripeInvoiceClosed(
            f"the Stripe invoice {sid} of invoice {current.number} is {status} in Stripe, so it "
            "cannot be sent: void this invoice, then generate a new one to bill this time"
        )
    sent = transitions.mark_sent(
        session,
        invoice=current,
        actor=Actor.of(user),
        stripe_invoice_id=sid,
        hosted_invoice_url=found.get("hosted_invoice_url"),
        due_date=_due_date(found.get("due_date"), org),
        amount_due=amount_due,
    )
    if sent.status == InvoiceStatus.void.value:
        raise InvoiceVoid(f"invoice {sent.number} was voided while it was being sent")
    if status == "paid":  # a credit balance covered it (or the client paid during a retry)
        # `sent`, the session's copy, reads as paid afterwards (mark_paid refreshes it).
        transitions.mark_paid(
            session,
            org_id=org.id,
            stripe_invoice_id=sid,
            paid_at=_paid_at(found),
            amount_paid=amount_of(found, "amount_paid"),
            source="send",
        )
    log.info(
        "invoice sent through Stripe",
        org_id=str(org.id),
        invoice_id=str(sent.id),
        stripe_invoice_id=sid,
        stripe_status=found["status"],
    )
    return sent


def _paid_at(found: dict[str, Any]) -> datetime:
    epoch = (found.get("status_transitions") or {}).get("paid_at")
    return (from_epoch(epoch) if isinstance(epoch, int) else None) or utcnow()


def _call(stripe: OrgStripe, fn: Callable[[Any], Any], *, op: str) -> dict[str, Any]:
    found = _dict(stripe.call(fn, op=op))
    assert found is not None
    return found


def _stripe_invoice(
    session: Session, stripe: OrgStripe, *, invoice: Invoice, customer_id: str, methods: list[str]
) -> tuple[dict[str, Any], bool]:
    """The Stripe invoice of our draft (found again, or created and noted at once), and
    whether it was just created (then it has no items yet)."""
    replaces = None
    if invoice.stripe_invoice_id:
        stored = invoice.stripe_invoice_id
        found = _dict(stripe.find(lambda c: c.v1.invoices.retrieve(stored), op="invoices.retrieve"))
        if found is not None:
            if found.get("status") == "draft" and _stale(found, invoice, methods):
                # A draft an older attempt made (e.g. before numbers or `discounts=""`).
                params = _invoice_params(invoice, customer_id=customer_id, methods=methods)
                found = _update_draft(stripe, invoice=invoice, sid=stored, params=params)
            return found, False
        log.warning(
            "stored Stripe invoice is gone; making another",
            org_id=str(invoice.org_id),
            invoice_id=str(invoice.id),
            stripe_invoice_id=stored,
        )
        replaces = stored
    params = _invoice_params(invoice, customer_id=customer_id, methods=methods)
    # A crash between Stripe's answer and our commit leaves a draft we never noted: find it.
    found = None
    for listed in stripe.pages(
        "/v1/invoices",
        {"customer": customer_id, "status": "draft", "limit": 100},
        op="invoices.list",
    ):
        if (listed.get("metadata") or {}).get("regentra_invoice_id") == str(invoice.id):
            found = listed
            break
    if found is not None:
        # Made by an attempt that read the draft earlier: bring it up to date.
        fresh = False
        found = _update_draft(stripe, invoice=invoice, sid=str(found["id"]), params=params)
    else:
        fresh = True
        key = idempotency_key(
            SEND_OP, f"{invoice.id}:invoice:{fingerprint({**params, 'replaces': replaces})}"
        )
        with _number_refusal(invoice):
            found = _call(
                stripe,
                lambda c: post(c, "/v1/invoices", params, key),
                op="invoices.create",
            )
    _note(session, stripe, invoice=invoice, sid=str(found["id"]), replaces=replaces)
    return found, fresh


def _stale(found: dict[str, Any], invoice: Invoice, methods: list[str]) -> bool:
    """The Stripe draft lacks what a send sets now: our number, no discounts, the methods."""
    types = (found.get("payment_settings") or {}).get("payment_method_types")
    return (
        found.get("number") != invoice.number
        or bool(found.get("discounts"))
        or types != payment_method_types(invoice.currency, methods)
    )


def _update_draft(
    stripe: OrgStripe, *, invoice: Invoice, sid: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Bring a Stripe draft an earlier attempt made up to date with our draft."""
    changes = {  # `discounts=""` drops a coupon a draft made before it inherited
        name: params[name]
        for name in ("description", "days_until_due", "payment_settings", "number", "discounts")
    }
    key = idempotency_key(SEND_OP, f"{invoice.id}:{sid}:update:{fingerprint(changes)}")
    try:
        with _number_refusal(invoice):
            return _call(
                stripe,
                lambda c: c.v1.invoices.update(sid, changes, request_options(key)),
                op="invoices.update",
            )
    except StripeInvalidRequest:
        # A send of the same invoice running at once may have finalized the draft between
        # our read and this update ("You can only update ... on draft invoices"): go on from
        # where that one brought it, which the rest of the flow handles.
        again = _dict(stripe.find(lambda c: c.v1.invoices.retrieve(sid), op="invoices.retrieve"))
        if again is not None and again.get("status") != "draft":
            return again
        raise


@contextmanager
def _number_refusal(invoice: Invoice) -> Iterator[None]:
    """Stripe refusing our invoice number (another invoice of the Stripe account has it)
    becomes a 409 that says so and what to do; nothing was sent."""
    try:
        yield
    except StripeInvalidRequest as exc:
        if exc.param != "number":
            raise
        raise StripeInvoiceNumberTaken(
            f"Stripe refused invoice number {invoice.number}: another invoice in this Stripe "
            "account already uses it (Stripe invoice numbers are unique per account, e.g. when "
            "another Regentra organization or another system bills through the same account). "
            f"Invoice {invoice.number} was not sent. Stripe said: {exc.message}",
            details=exc.details,
        ) from None


def _note(
    session: Session, stripe: OrgStripe, *, invoice: Invoice, sid: str, replaces: str | None
) -> None:
    """Remember the Stripe invoice and commit, so a retry resumes with it. Our invoice is
    locked and checked first: when it was deleted, voided or given another Stripe invoice
    meanwhile, the Stripe draft just made is deleted again and nothing is sent."""
    number = invoice.number
    current = _fresh(session, org_id=invoice.org_id, invoice_id=invoice.id, lock=True)
    if current is not None and current.stripe_invoice_id == sid:
        session.commit()  # already noted (a concurrent send of the same invoice)
        return
    draft = current is not None and current.status == InvoiceStatus.draft.value
    if current is not None and draft and current.stripe_invoice_id in (None, replaces):
        transitions.note_stripe_invoice(session, invoice=current, stripe_invoice_id=sid)
        session.commit()
        return
    if current is None:
        problem: RegentraError = NotFound(f"invoice {number} was deleted while it was being sent")
    elif not draft:
        problem = InvoiceNotDraft(
            f"invoice {number} became {current.status} while it was being sent"
        )
    else:
        problem = SendInProgress(
            f"invoice {number} is being sent by another request: wait a moment and reload it"
        )
    session.rollback()
    try:
        stripe.find(lambda c: c.v1.invoices.delete(sid), op="invoices.delete")
    except RegentraError as exc:
        log.warning(
            "could not delete an unneeded Stripe draft invoice",
            org_id=str(invoice.org_id),
            stripe_invoice_id=sid,
            error=exc.message,
        )
    raise problem


def _prices(session: Session, invoice: Invoice, lines: list[InvoiceLine]) -> dict[uuid.UUID, str]:
    return line_prices.prices_for(
        session, org_id=invoice.org_id, currency=invoice.currency, lines=lines
    )


def _plan(
    lines: list[InvoiceLine], invoice: Invoice, prices: dict[uuid.UUID, str]
) -> list[stripe_lines.StripeLine]:
    return stripe_lines.plan(
        lines,
        invoice=invoice,
        item_params=lambda line: _item_params(line, invoice, prices.get(line.id)),
    )


def _add_items(
    stripe: OrgStripe,
    *,
    invoice: Invoice,
    sid: str,
    customer_id: str,
    planned: list[stripe_lines.StripeLine],
    fresh: bool,
) -> int:
    """Add the planned lines the Stripe draft lacks (quantity lines one invoice item each,
    the others through `add_lines`, 50 a call); returns the sum of all its lines."""
    present: set[str] = set()
    stripe_total = 0
    if not fresh:
        for item in stripe.pages(
            "/v1/invoiceitems", {"invoice": sid, "limit": 100}, op="invoice_items.list"
        ):
            stripe_total += from_stripe(int(item.get("amount") or 0), invoice.currency)
            key = stripe_lines.key_of(item.get("metadata"))
            if key:
                present.add(key)
    missing = [line for line in planned if line.key not in present]
    for line in missing:
        if line.as_item:
            body = {**line.params, "customer": customer_id, "invoice": sid}
            key = idempotency_key(SEND_OP, f"{invoice.id}:{sid}:item:{line.key}")
            created = _create_item(stripe, body, key)
            stripe_total += from_stripe(int(created.get("amount") or 0), invoice.currency)
    answer = None
    batches = stripe_lines.batches(line for line in missing if not line.as_item)
    for index, batch in enumerate(batches):
        params = {"lines": [line.params for line in batch]}
        # Deterministic: a resumed send asks for the same batches with the same keys; a batch
        # of other lines (some were added meanwhile) gets another key.
        key = idempotency_key(SEND_OP, f"{invoice.id}:{sid}:lines:{index}:{fingerprint(params)}")
        answer = _add_lines(stripe, sid, params, key)
    if answer is not None:  # Stripe's own sum of every line on the invoice
        return from_stripe(int(answer.get("subtotal") or 0), invoice.currency)
    return stripe_total


def _add_lines(stripe: OrgStripe, sid: str, params: dict[str, Any], key: str) -> dict[str, Any]:
    return _call(
        stripe,
        lambda c: post(c, f"/v1/invoices/{sid}/add_lines", params, key),
        op="invoices.add_lines",
    )


def _create_item(stripe: OrgStripe, body: dict[str, Any], key: str) -> dict[str, Any]:
    return _call(
        stripe,
        lambda c: c.v1.invoice_items.create(body, request_options(key)),
        op="invoice_items.create",
    )


def _check_total(invoice: Invoice, *, sid: str, stripe_total: int, total: int) -> None:
    if stripe_total == total:
        return
    raise StripeTotalMismatch(
        f"the Stripe invoice {sid} totals {format_money(stripe_total, invoice.currency)} but "
        f"invoice {invoice.number} totals {format_money(total, invoice.currency)}: it was "
        "changed in Stripe, so it was not sent. Void this invoice (its Stripe draft is deleted) "
        "and generate a new one."
    )


# ---- void -------------------------------------------------------------------------------------


def void(
    session: Session, *, org: Org, user: User, invoice_id: uuid.UUID, release_entries: bool
) -> Invoice:
    """Void the invoice here and, when it reached Stripe, there too (a Stripe draft left by
    a send that stopped half-way is deleted). A paid invoice cannot be voided (409), nor one
    Stripe already has as paid."""
    invoice = _fresh(session, org_id=org.id, invoice_id=invoice_id, lock=True)
    if invoice is None:
        raise NotFound("invoice not found")
    if invoice.status not in transitions.VOIDABLE:
        raise transitions.not_voidable(invoice)
    sid = invoice.stripe_invoice_id
    if sid is not None:
        stripe = stripe_client.for_org(session, org.id)
        session.commit()  # hold no database lock while Stripe answers
        _void_in_stripe(stripe, invoice=invoice, sid=sid)
    return transitions.mark_void(
        session, org=org, actor=Actor.of(user), invoice=invoice, release_entries=release_entries
    )


def _paid_in_stripe(invoice: Invoice, sid: str) -> Conflict:
    if invoice.status == InvoiceStatus.draft.value:
        then = "send it again to record it here; it will then show as paid"
    else:
        then = (
            "it will show as paid here once Stripe's notice arrives or reconciliation runs "
            "(refund the payment in Stripe instead)"
        )
    return InvoicePaidInStripe(
        f"invoice {invoice.number} was already paid in Stripe ({sid}), so it cannot be voided: "
        + then
    )


def _void_in_stripe(stripe: OrgStripe, *, invoice: Invoice, sid: str) -> None:
    def retrieve() -> dict[str, Any] | None:
        return _dict(stripe.find(lambda c: c.v1.invoices.retrieve(sid), op="invoices.retrieve"))

    found = retrieve()
    status = found["status"] if found is not None else None
    if status is None or status == "void":
        log.info("nothing to void in Stripe", invoice_id=str(invoice.id), stripe_invoice_id=sid)
        return
    if status == "paid":
        raise _paid_in_stripe(invoice, sid)
    if status == "draft":
        stripe.find(lambda c: c.v1.invoices.delete(sid), op="invoices.delete")
        return
    key = idempotency_key(VOID_OP, f"{invoice.id}:{sid}")
    try:
        stripe.call(
            lambda c: c.v1.invoices.void_invoice(sid, None, request_options(key)),
            op="invoices.void_invoice",
        )
    except RegentraError:
        again = retrieve()  # paid (or voided) in the meantime?
        if again is not None and again["status"] == "paid":
            raise _paid_in_stripe(invoice, sid) from None
        if again is not None and again["status"] == "void":
            return
        raise
