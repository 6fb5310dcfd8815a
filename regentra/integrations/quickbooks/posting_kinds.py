"""The postings themselves, one function per kind (`RUNNERS`): each makes its QuickBooks
object (or finds the one an earlier attempt made) and returns what to record, or a string
saying why nothing is posted. `posting_run` calls them, one step at a time."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from regentra.integrations.quickbooks import customers, documents, postings
from regentra.integrations.quickbooks import posting_rows as rows
from regentra.integrations.quickbooks.amounts import exact_rate, from_qbo
from regentra.integrations.quickbooks.errors import QuickBooksRejected
from regentra.integrations.quickbooks.posting_context import NotYet, Run
from regentra.integrations.quickbooks.posting_facts import Mapping
from regentra.integrations.quickbooks.posting_rows import Row
from regentra.integrations.stripe.fees import FeePending, NoCharge, StripeFee
from regentra.kit.time import utcnow
from regentra.models import PostingKind

K = PostingKind
STALE_OBJECT = "5010"
# Longer than one attempt can talk to QuickBooks (the client's timeouts and back-offs): an
# attempt older than this is over.
IN_FLIGHT = timedelta(minutes=15)


def _result(
    obj: dict[str, Any], qbo_type: str, amount: int | None, currency: str | None, **details: Any
) -> dict[str, Any]:
    return {
        "qbo_id": str(obj["Id"]),
        "sync_token": str(obj.get("SyncToken")) if obj.get("SyncToken") is not None else None,
        "qbo_type": qbo_type,
        "amount": amount,
        "currency": currency,
        "details": {k: v for k, v in details.items() if v is not None},
    }


def before_post_from(post_from: date | None, on: date, what: str) -> str | None:
    """Why nothing is posted for `what` dated `on` (before the mapping's post-from date)."""
    if post_from is not None and on < post_from:
        return (
            f"not posted: the {what} is dated {on.isoformat()}, before {post_from.isoformat()} "
            "(the mapping's post-from date)"
        )
    return None


def _before_post_from(run: Run, on: date, what: str) -> str | None:
    return before_post_from(run.mapping.post_from, on, what)


MAPPING_LABELS = {
    "item": "income item",
    "deposit": "deposit account for Stripe payments",
    "fee_account": "fee expense account",
    "paid_from": "account the fee is paid from",
    "vendor": "fee vendor",
    "payout": "payout bank account",
    "dispute": "account for disputed amounts",
}


def missing(mapping: Mapping, *names: str) -> None:
    """Refuse (as QuickBooks would, so the posting fails and can be retried) when the mapping
    lacks one of `names`, naming each in words."""
    absent = [MAPPING_LABELS[n] for n in names if getattr(mapping, n) is None]
    if absent:
        raise QuickBooksRejected(
            f"the QuickBooks mapping has no {', '.join(absent)}: complete it, then Retry"
        )


def _missing(run: Run, *names: str) -> None:
    missing(run.mapping, *names)


# ---- the postings ---------------------------------------------------------------------------


def _invoice(run: Run, row: Row, earlier: bool) -> dict[str, Any] | str:
    f = run.facts
    on = f.day(f.sent_at)
    skip = _before_post_from(run, on, "invoice")
    if skip:
        return skip
    _missing(run, "item")
    ref = documents.doc_number(f.number)
    found = run.find("Invoice", "DocNumber", ref) if earlier else None
    if found is None:
        run.generation = row.generation
        customer = run.customer()
        rate = run.rate(f.currency, on) if f.currency != run.mapping.home else None
        body = documents.invoice(
            number=f.number,
            customer_id=customer,
            item_id=str(run.mapping.item),
            lines=list(f.lines),
            currency=f.currency,
            home=run.mapping.home,
            rate=rate,
            txn_date=on,
            due_date=f.due_date,
            memo=f"Regentra invoice {f.number}",
        )
        found = run.qbo.create("Invoice", body, request_id=postings.request_id(row))
    total = from_qbo(found["TotalAmt"], f.currency)
    return _result(
        found,
        "Invoice",
        total,
        f.currency,
        customer=str((found.get("CustomerRef") or {}).get("value")),
        exchange_rate=str(found.get("ExchangeRate")) if f.currency != run.mapping.home else None,
    )


def _elsewhere(run: Run, what: str) -> str | None:
    """Why the invoice's `what` is not posted when its mirror (or credit memo) is in a
    company other than the connected one (nothing is posted there against those objects)."""
    for kind in (K.invoice.value, K.credit.value):
        row = run.posted.get(kind)
        why = run.elsewhere(row) if row is not None and row.state == "posted" else None
        if why:
            return f"not posted: the invoice was {why}, so its {what} is not posted here"
    return None


def _mirror(run: Run, what: str) -> tuple[str, str] | str:
    """(invoice id, customer id) of the mirrored invoice, or why there is none."""
    mirror = run.posted.get(K.invoice.value)
    elsewhere = _elsewhere(run, what)
    if elsewhere:
        return elsewhere
    if mirror is None or mirror.state != "posted" or mirror.qbo_id is None:
        return (
            f"not posted: the invoice was not mirrored to QuickBooks (dated before the "
            f"mapping's post-from date), so its {what} is not either"
        )
    return mirror.qbo_id, str(mirror.details.get("customer") or run.customer())


def _credit(run: Run, row: Row, earlier: bool) -> dict[str, Any] | str:
    f = run.facts
    on = f.day(f.paid_at)
    mirror = _mirror(run, "credit")
    if isinstance(mirror, str):
        return mirror
    _, customer = mirror
    _missing(run, "item")
    ref = documents.credit_number(f.number)
    found = run.find("CreditMemo", "DocNumber", ref) if earlier else None
    if found is None:
        rate = run.rate(f.currency, on) if f.currency != run.mapping.home else None
        body = documents.credit_memo(
            number=f.number,
            customer_id=customer,
            item_id=str(run.mapping.item),
            amount=f.credit,
            currency=f.currency,
            home=run.mapping.home,
            rate=rate,
            txn_date=on,
        )
        found = run.qbo.create("CreditMemo", body, request_id=postings.request_id(row))
    return _result(found, "CreditMemo", from_qbo(found["TotalAmt"], f.currency), f.currency)


def _payment(run: Run, row: Row, earlier: bool) -> dict[str, Any] | str:
    f = run.facts
    on = f.day(f.paid_at)
    skip = _before_post_from(run, on, "payment")
    if skip:
        return skip
    mirror = _mirror(run, "payment")
    if isinstance(mirror, str):
        return mirror
    invoice_qbo_id, customer = mirror
    _missing(run, "deposit")
    paid = run.stripe()
    if isinstance(paid, FeePending):  # a charge not settled: never "paid outside Stripe"
        raise NotYet(f"waiting for Stripe to settle the payment: {paid.reason}")
    credit = run.posted.get(K.credit.value)
    credit_id = credit.qbo_id if credit is not None and credit.state == "posted" else None
    credit_amount = (credit.amount or 0) if credit is not None and credit_id else 0
    if isinstance(paid, StripeFee):
        collected, deposit = paid.amount, run.mapping.deposit
        memo = f"Regentra invoice {f.number}; Stripe payment {paid.payment_intent_id}"
    else:
        collected = f.amount_paid if f.amount_paid is not None else f.total - credit_amount
        deposit = run.mapping.other_deposit or run.mapping.deposit
        memo = f"Regentra invoice {f.number}; paid outside Stripe ({_reason(paid)})"
    applied = min(f.total, collected + credit_amount)
    if applied <= 0:
        return "not posted: nothing was paid (the invoice total is zero)"
    found = _find_payment(run, customer, on, f.number) if earlier else None
    rate: Decimal | None = None
    if f.currency != run.mapping.home:
        stripe_rate = (
            settlement_rate(paid)
            if isinstance(paid, StripeFee) and paid.settlement_currency == run.mapping.home
            else None
        )
        rate = stripe_rate if stripe_rate is not None else run.rate(f.currency, on)
    if found is None:
        body = documents.payment(
            number=f.number,
            customer_id=customer,
            invoice_id=invoice_qbo_id,
            invoice_amount=applied,
            credit_memo_id=credit_id,
            credit_amount=credit_amount,
            amount=collected,
            currency=f.currency,
            home=run.mapping.home,
            rate=rate,
            deposit_account_id=str(deposit),
            txn_date=on,
            memo=memo,
        )
        found = run.qbo.create("Payment", body, request_id=postings.request_id(row))
    return _result(
        found,
        "Payment",
        from_qbo(found["TotalAmt"], f.currency),
        f.currency,
        payment_intent=paid.payment_intent_id if isinstance(paid, StripeFee) else None,
        charge=paid.charge_id if isinstance(paid, StripeFee) else None,
        exchange_rate=str(rate) if rate is not None else None,
        outside_stripe=None if isinstance(paid, StripeFee) else _reason(paid),
    )


def settlement_rate(paid: StripeFee) -> Decimal | None:
    """Stripe's rate for the Payment, such that QuickBooks' home amount (`TotalAmt` * rate,
    rounded to the cent) is exactly what Stripe settled (`amounts.exact_rate`)."""
    return exact_rate(
        paid.amount,
        paid.currency,
        paid.settled_amount,
        paid.settlement_currency,
        shown=paid.exchange_rate,
    )


def _find_payment(run: Run, customer: str, on: date, number: str) -> dict[str, Any] | None:
    """The Payment an earlier attempt made, by fields Intuit documents as filterable
    (`CustomerRef`, `TxnDate`; whether `PaymentRefNum` is, its pages do not say), matched
    by its memo ("Regentra invoice <number>; …")."""
    statement = (
        f"select * from Payment where CustomerRef = {documents.quoted(customer)} "  # noqa: S608
        f"and TxnDate = {documents.quoted(on.isoformat())}"
    )
    try:
        found = run.qbo.query(statement)
    except QuickBooksRejected:
        return None  # the requestid replay is the guard then
    memo = f"Regentra invoice {number};"
    return next((p for p in found if str(p.get("PrivateNote") or "").startswith(memo)), None)


def _reason(paid: StripeFee | NoCharge | FeePending) -> str:
    return "" if isinstance(paid, StripeFee) else paid.reason


def _paid_from_type(run: Run) -> str | None:
    """The account type of the account the fee is paid from: as the mapping's save read it
    (its label), else read live."""
    label = run.mapping.labels.get("fee_paid_from_account")
    if isinstance(label, dict) and label.get("type"):
        return str(label["type"])
    account = run.qbo.read("Account", str(run.mapping.paid_from))
    return str(account.get("AccountType") or "") or None


def _fee(run: Run, row: Row, earlier: bool) -> dict[str, Any] | str:
    f = run.facts
    elsewhere = _elsewhere(run, "Stripe fee")
    if elsewhere:
        return elsewhere
    paid = run.stripe()
    if isinstance(paid, FeePending):
        raise NotYet(f"waiting for Stripe to settle the payment: {paid.reason}")
    if isinstance(paid, NoCharge):
        return f"no Stripe fee: {paid.reason}"
    if paid.fee == 0:
        return f"no Stripe fee: Stripe charged no fee for {paid.charge_id}"
    on = f.day(paid.created)
    skip = _before_post_from(run, on, "fee")
    if skip:
        return skip
    _missing(run, "fee_account", "paid_from", "vendor")
    currency = paid.settlement_currency
    run.check_multicurrency(currency, "Stripe fee")
    kind = documents.payment_type(_paid_from_type(run))
    if kind is None:
        raise QuickBooksRejected(
            "the account the fee is paid from must be a Bank or Credit Card account: change it "
            "in the QuickBooks mapping, then Retry"
        )
    parts = [p for p in paid.fee_details if p.currency == currency]
    if sum(p.amount for p in parts) != paid.fee or not parts:
        lines = [documents.FeeLine("Stripe processing fees", paid.fee)]
    else:
        lines = [documents.FeeLine(f"{p.description} ({p.type})", p.amount) for p in parts]
    ref = documents.fee_number(f.number)
    found = run.find("Purchase", "DocNumber", ref) if earlier else None
    rate = run.rate(currency, on) if currency != run.mapping.home else None
    if found is None:
        vendor = str(run.mapping.vendor)
        if currency != run.mapping.home:  # the expense is in its vendor's currency
            vendor = customers.fee_vendor(
                run.qbo,
                org_id=f.org_id,
                vendor_id=vendor,
                currency=currency,
                generation=row.generation,
            )
        body = documents.purchase(
            number=f.number,
            payment_type=kind,
            paid_from_account_id=str(run.mapping.paid_from),
            vendor_id=vendor,
            expense_account_id=str(run.mapping.fee_account),
            lines=lines,
            currency=currency,
            home=run.mapping.home,
            rate=rate,
            txn_date=on,
            memo=(
                f"Regentra: Stripe fee for invoice {f.number}; charge {paid.charge_id}; "
                f"balance transaction {paid.balance_transaction_id}"
            ),
        )
        found = run.qbo.create("Purchase", body, request_id=postings.request_id(row))
    return _result(
        found,
        "Purchase",
        from_qbo(found["TotalAmt"], currency),
        currency,
        **paid.as_details(),
        qbo_exchange_rate=str(rate) if rate is not None else None,
    )


def _void_object(run: Run, qbo_id: str, sync_token: str) -> dict[str, Any]:
    """Void Invoice `qbo_id` (read again when someone changed it in QuickBooks meanwhile)."""
    try:
        return run.qbo.update("Invoice", documents.void(qbo_id, sync_token), operation="void")
    except QuickBooksRejected as exc:
        if exc.fault_code != STALE_OBJECT:
            raise
        current = run.qbo.read("Invoice", qbo_id)
        if str(current.get("PrivateNote") or "") == "Voided":
            return current
        return run.qbo.update(
            "Invoice",
            documents.void(str(current["Id"]), str(current["SyncToken"])),
            operation="void",
        )


def _void(run: Run, row: Row, earlier: bool) -> dict[str, Any] | str:
    f = run.facts
    never = "nothing to void: the invoice was never mirrored to QuickBooks"
    mirror = rows.read_all(f.org_id, f.invoice_id).get(K.invoice.value)
    if mirror is None or mirror.state == "skipped":
        return never
    elsewhere = run.elsewhere(mirror)
    if elsewhere:
        # Never void (or look up) in the connected company an object of another company.
        if not mirror.done:
            why = (
                f"not posted: the invoice was voided; it was attempted in company {mirror.realm_id}"
            )
            rows.skipped(mirror, why, was_failed=True)
        return f"not voided: the invoice was {elsewhere}"
    if mirror.state == "posted" and mirror.qbo_id:
        voided = _void_object(run, mirror.qbo_id, mirror.qbo_sync_token or "0")
        return _result(voided, "Invoice", 0, f.currency, voided=mirror.qbo_id)
    before = "not posted: the invoice was voided before it was mirrored"
    if mirror.state == "failed" or mirror.attempts == 0:  # QuickBooks made nothing
        rows.skipped(mirror, before, was_failed=True)
        return never
    # The mirror is open and was attempted: an attempt may be talking to QuickBooks right
    # now, or may have reached it before its worker died. Look it up by its DocNumber.
    found = run.find("Invoice", "DocNumber", documents.doc_number(f.number))
    if found is None:
        recent = utcnow() - IN_FLIGHT
        if mirror.last_attempt_at is not None and mirror.last_attempt_at > recent:
            raise NotYet("waiting for the invoice's mirror, being posted now, to void it")
        rows.skipped(mirror, before)  # the attempt is long over and made nothing
        return never
    # The attempt reached QuickBooks: record the mirror (its own worker, if alive, then
    # finds it recorded), then void it.
    rows.posted(
        mirror,
        number=f.number,
        realm_id=run.realm,
        **_result(found, "Invoice", from_qbo(found["TotalAmt"], f.currency), f.currency),
    )
    voided = _void_object(run, str(found["Id"]), str(found["SyncToken"]))
    return _result(voided, "Invoice", 0, f.currency, voided=str(found["Id"]))


def void_if_voided_meanwhile(run: Run, made: dict[str, Any]) -> None:
    """The mirror's `posted` lost: if a void closed the mirror row while this attempt was
    making the Invoice, the Invoice just made is live in QuickBooks for an invoice that is
    void here. Void it, and say so on the row."""
    mirror = rows.read_all(run.facts.org_id, run.facts.invoice_id).get(K.invoice.value)
    if mirror is None or mirror.state != "skipped":
        return  # another worker recorded it (the same object: the same requestid)
    _void_object(run, made["qbo_id"], made["sync_token"] or "0")
    rows.note_closed(
        mirror,
        f"voided in QuickBooks: Invoice {made['qbo_id']} was made while the invoice was being "
        "voided here",
        qbo_id=made["qbo_id"],
        realm_id=run.realm,
    )


RUNNERS = {
    K.invoice.value: _invoice,
    K.credit.value: _credit,
    K.payment.value: _payment,
    K.fee.value: _fee,
    K.void.value: _void,
}
