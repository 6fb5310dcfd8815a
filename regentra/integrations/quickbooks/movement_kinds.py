"""The movement postings themselves, one function per kind (`RUNNERS`): each makes its
QuickBooks object (or adopts the one an earlier attempt made) and returns what to record, or
a string saying why nothing is posted. The Stripe clearing account is the mapping's deposit
account for Stripe payments; every amount here leaves or enters it as it left or entered the
Stripe balance.

- refund: a RefundReceipt to the invoice's customer, paid from the clearing account, one line
  on the income item for the refund (the invoice's currency; a foreign one at the rate that
  makes the home amount what Stripe settled). A fee on the refund's balance transaction is a
  second object of the same posting (`details.fee_deposit` / `fee_purchase`): given back by
  Stripe (`settled_fee` < 0), a Deposit into the clearing account from the fee expense
  account; charged (> 0), a Purchase from the clearing account to the fee expense account.
- dispute: a Purchase paid from the clearing account to the fee vendor: the withdrawn amount
  to the dispute account, the dispute fee to the fee expense account.
- reinstatement: a Deposit into the clearing account from the dispute account.
- payout: a Transfer from the clearing account to the payout bank account (none when the
  clearing account is Undeposited Funds: skipped, saying so).
- payout_return: the Transfer back, for a failed payout (or one canceled after its Transfer
  was posted: Stripe returns the funds to the balance then too).

Dispute and payout amounts are in the Stripe balance's currency, which must be the company's
home currency (else the posting fails saying so).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from regentra.integrations.quickbooks import documents, movements
from regentra.integrations.quickbooks.amounts import exact_rate, from_qbo
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.integrations.quickbooks.documents import AccountLine
from regentra.integrations.quickbooks.errors import QuickBooksRejected
from regentra.integrations.quickbooks.mapping import UNDEPOSITED
from regentra.integrations.quickbooks.movement_rows import Row
from regentra.integrations.quickbooks.posting_context import Run
from regentra.integrations.quickbooks.posting_facts import Facts, Mapping
from regentra.integrations.quickbooks.posting_kinds import (
    MAPPING_LABELS,
    _result,
    before_post_from,
    missing,
)
from regentra.models import MovementKind

K = MovementKind


class NotMappedYet(Exception):
    """A mapping field added for these postings (the payout bank account, the account for
    disputed amounts) is not chosen yet: the posting waits for it (a mapping saved before
    they existed must not turn every payout into a failure to retry one by one); saving the
    mapping resumes it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def not_mapped_yet(mapping: Mapping, name: str) -> None:
    if getattr(mapping, name) is None:
        raise NotMappedYet(
            f"waiting for the QuickBooks mapping's {MAPPING_LABELS[name]} (choose it on the "
            "QuickBooks card and save)"
        )


@dataclass(frozen=True)
class Subject:
    """A refund, dispute or payout row as read at the start of a run."""

    org_id: uuid.UUID
    subject: str
    subject_id: uuid.UUID
    stripe_id: str
    tz: ZoneInfo
    invoice_id: uuid.UUID | None = None
    invoice_number: str | None = None
    status: str = ""
    amount: int = 0
    currency: str = ""
    settled_amount: int | None = None
    settled_fee: int | None = None
    settlement_currency: str | None = None
    refunded_at: datetime | None = None
    withdrawn: int | None = None
    withdrawal_fee: int | None = None
    withdrawn_at: datetime | None = None
    reinstated: int | None = None
    reinstated_at: datetime | None = None
    arrival_date: date | None = None
    failed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def day(self, at: datetime | None) -> date:
        """`at` (UTC) as a date in the org's time zone (its row's creation when unknown)."""
        when = at or self.created_at or datetime.now(tz=self.tz)
        return when.astimezone(self.tz).date()

    @property
    def of_invoice(self) -> str:
        return f"invoice {self.invoice_number}" if self.invoice_number else "an invoice"


@dataclass
class MoveRun:
    subject: Subject
    mapping: Mapping
    qbo: QuickBooks
    invoice: Facts | None = None  # the refunded invoice (refunds only)
    posted: dict[str, Row] = field(default_factory=dict)
    _clearing: dict[str, Any] | None = None

    @property
    def realm(self) -> str:
        return self.mapping.realm_id

    def clearing(self) -> dict[str, Any]:
        """The clearing account's type and subtype: as the mapping's save read them (its
        label), else read live."""
        if self._clearing is None:
            label = self.mapping.labels.get("deposit_account")
            saved = isinstance(label, dict) and label.get("id") in (None, self.mapping.deposit)
            if isinstance(label, dict) and saved and label.get("type"):
                self._clearing = {"type": label["type"], "subtype": label.get("subtype")}
            else:
                account = self.qbo.read("Account", str(self.mapping.deposit))
                self._clearing = {
                    "type": account.get("AccountType"),
                    "subtype": account.get("AccountSubType"),
                }
        return self._clearing

    def undeposited(self) -> bool:
        return self.clearing().get("subtype") == UNDEPOSITED

    def home_only(self, currency: str | None, what: str) -> str:
        """The Stripe balance's currency, which must be the company's home currency."""
        cur = (currency or self.mapping.home).upper()
        if cur != self.mapping.home:
            raise QuickBooksRejected(
                f"this {what} is in {cur}, the Stripe balance's currency, but the QuickBooks "
                f"company's home currency is {self.mapping.home}: Regentra posts Stripe balance "
                "movements only in the home currency (post it by hand in QuickBooks)"
            )
        return cur

    def find(self, entity: str, on: date, kind: str) -> dict[str, Any] | None:
        """The object an earlier attempt made, by its memo's reference among `entity`s of
        the same TxnDate (a field Intuit documents as filterable)."""
        reference = documents.movement_reference(kind, self.subject.stripe_id)
        day = documents.quoted(on.isoformat())
        statement = f"select * from {entity} where TxnDate = {day} maxresults 1000"  # noqa: S608
        try:
            found = self.qbo.query(statement)
        except QuickBooksRejected:
            return None  # the requestid replay is the guard then
        return next(
            (o for o in found if str(o.get("PrivateNote") or "").startswith(reference)), None
        )

    def make(
        self, entity: str, body: dict[str, Any], row: Row, on: date, earlier: bool, part: str = ""
    ) -> dict[str, Any]:
        """Adopt what an earlier attempt made (`earlier`), else create with the posting's
        stable `requestid`."""
        kind = f"{row.kind}_{part}" if part else row.kind
        found = self.find(entity, on, kind) if earlier else None
        if found is not None:
            return found
        return self.qbo.create(entity, body, request_id=movements.request_id(row, part or None))


def _refund(run: MoveRun, row: Row, earlier: bool) -> dict[str, Any] | str:
    s, f = run.subject, run.invoice
    assert f is not None
    on = s.day(s.refunded_at)
    skip = before_post_from(run.mapping.post_from, on, "refund")
    if skip:
        return skip
    missing(run.mapping, "item", "deposit")
    currency = s.currency.upper()
    invoice_run = Run(f, run.mapping, run.qbo)
    invoice_run.generation = row.generation
    customer = invoice_run.customer()  # checks multicurrency for a foreign currency
    rate: Decimal | None = None
    if currency != run.mapping.home:
        settled = s.settled_amount or 0
        if (s.settlement_currency or "").upper() == run.mapping.home and settled > 0:
            rate = exact_rate(s.amount, currency, settled, run.mapping.home)
        rate = rate or invoice_run.rate(currency, on)
    memo = documents.movement_memo(
        row.kind, s.stripe_id, f"refund of invoice {f.number} through Stripe"
    )
    body = documents.refund_receipt(
        customer_id=customer,
        item_id=str(run.mapping.item),
        description=f"Refund of invoice {f.number}",
        amount=s.amount,
        currency=currency,
        home=run.mapping.home,
        rate=rate,
        paid_from_account_id=str(run.mapping.deposit),
        txn_date=on,
        memo=memo,
    )
    receipt = run.make("RefundReceipt", body, row, on, earlier)
    fee = _refund_fee(run, row, on, earlier, f.number)
    return _result(
        receipt,
        "RefundReceipt",
        from_qbo(receipt["TotalAmt"], currency),
        currency,
        stripe_refund=s.stripe_id,
        settled_amount=s.settled_amount,
        settlement_currency=s.settlement_currency,
        refund_fee=s.settled_fee or None,
        fee_deposit=fee if (s.settled_fee or 0) < 0 else None,
        fee_purchase=fee if (s.settled_fee or 0) > 0 else None,
        exchange_rate=str(rate) if rate is not None else None,
    )


def _refund_fee(run: MoveRun, row: Row, on: date, earlier: bool, number: str) -> str | None:
    """The fee on the refund's balance transaction, in or out of the clearing account: given
    back by Stripe (< 0), a Deposit into it from the fee expense account; charged (> 0), a
    Purchase paid from it to the fee expense account. The object's id (None: no fee)."""
    fee = run.subject.settled_fee or 0
    if fee == 0:
        return None
    home = run.home_only(run.subject.settlement_currency, "refund's Stripe fee")
    missing(run.mapping, "fee_account", *(("vendor",) if fee > 0 else ()))
    line = AccountLine(
        f"Stripe fee {'returned with' if fee < 0 else 'charged for'} the refund of invoice "
        f"{number}",
        abs(fee),
        str(run.mapping.fee_account),
    )
    memo = documents.movement_memo(
        f"{row.kind}_fee", run.subject.stripe_id, f"Stripe fee of a refund, invoice {number}"
    )
    if fee < 0:
        body = documents.deposit(
            to_account_id=str(run.mapping.deposit),
            lines=[line],
            currency=home,
            txn_date=on,
            memo=memo,
        )
        entity = "Deposit"
    else:
        body = documents.expense(
            payment_type=_paid_from_clearing(run, "a refund's Stripe fee"),
            paid_from_account_id=str(run.mapping.deposit),
            vendor_id=str(run.mapping.vendor),
            lines=[line],
            currency=home,
            txn_date=on,
            memo=memo,
        )
        entity = "Purchase"
    return str(run.make(entity, body, row, on, earlier, part="fee")["Id"])


def _paid_from_clearing(run: MoveRun, what: str = "a dispute") -> str:
    kind = documents.payment_type(str(run.clearing().get("type") or ""))
    if kind is None or run.undeposited():
        raise QuickBooksRejected(
            f"{what} is paid out of the deposit account for Stripe payments, which must be a "
            "Bank account (a clearing account such as Stripe Clearing, not Undeposited Funds): "
            "change it in the QuickBooks mapping, then Retry"
        )
    return kind


def _dispute(run: MoveRun, row: Row, earlier: bool) -> dict[str, Any] | str:
    s = run.subject
    on = s.day(s.withdrawn_at)
    skip = before_post_from(run.mapping.post_from, on, "dispute")
    if skip:
        return skip
    withdrawn, fee = s.withdrawn or 0, s.withdrawal_fee or 0
    missing(run.mapping, "deposit", "vendor", *(("fee_account",) if fee else ()))
    not_mapped_yet(run.mapping, "dispute")
    currency = run.home_only(s.settlement_currency, "dispute")
    payment_type = _paid_from_clearing(run)
    lines = [
        AccountLine(f"Disputed payment of {s.of_invoice}", withdrawn, str(run.mapping.dispute))
    ]
    if fee:
        lines.append(AccountLine("Stripe dispute fee", fee, str(run.mapping.fee_account)))
    body = documents.expense(
        payment_type=payment_type,
        paid_from_account_id=str(run.mapping.deposit),
        vendor_id=str(run.mapping.vendor),
        lines=lines,
        currency=currency,
        txn_date=on,
        memo=documents.movement_memo(
            row.kind, s.stripe_id, f"withdrawn by Stripe for a dispute of {s.of_invoice}"
        ),
    )
    found = run.make("Purchase", body, row, on, earlier)
    return _result(
        found,
        "Purchase",
        from_qbo(found["TotalAmt"], currency),
        currency,
        stripe_dispute=s.stripe_id,
        withdrawn=withdrawn,
        dispute_fee=fee,
    )


def _reinstatement(run: MoveRun, row: Row, earlier: bool) -> dict[str, Any] | str:
    s = run.subject
    dispute = run.posted.get(K.dispute.value)
    if dispute is not None and dispute.state == "skipped":
        return "not posted: the dispute's withdrawal was not posted either"
    on = s.day(s.reinstated_at)
    skip = before_post_from(run.mapping.post_from, on, "dispute reinstatement")
    if skip:
        return skip
    missing(run.mapping, "deposit")
    not_mapped_yet(run.mapping, "dispute")
    return _back_into_clearing(
        run,
        row,
        earlier,
        on=on,
        named="dispute reinstatement",
        what="a won dispute's amount",
        line=AccountLine(
            f"Dispute won: {s.of_invoice}", s.reinstated or 0, str(run.mapping.dispute)
        ),
        note=f"given back by Stripe, dispute of {s.of_invoice} won",
        stripe_dispute=s.stripe_id,
    )


def _back_into_clearing(
    run: MoveRun,
    row: Row,
    earlier: bool,
    *,
    on: date,
    named: str,
    what: str,
    line: AccountLine,
    note: str,
    **details: Any,
) -> dict[str, Any]:
    """Money Stripe put back in its balance: a Deposit into the clearing account (in the
    balance's currency, the company's home one) with one line from `line`'s account. `named`:
    the posting in words; `what`: the money in words."""
    s = run.subject
    currency = run.home_only(s.settlement_currency, named)
    if run.undeposited():
        raise QuickBooksRejected(
            f"{what} goes back to the deposit account for Stripe payments, which cannot be "
            "Undeposited Funds: map a clearing account such as Stripe Clearing, then Retry"
        )
    body = documents.deposit(
        to_account_id=str(run.mapping.deposit),
        lines=[line],
        currency=currency,
        txn_date=on,
        memo=documents.movement_memo(row.kind, s.stripe_id, note),
    )
    found = run.make("Deposit", body, row, on, earlier)
    return _result(found, "Deposit", from_qbo(found["TotalAmt"], currency), currency, **details)


def _refund_return(run: MoveRun, row: Row, earlier: bool) -> dict[str, Any] | str:
    """A refund that failed after its RefundReceipt was posted: Stripe put the money back in
    the balance, so a Deposit into the clearing account from the income item's account
    (the refund's revenue reduction undone), for what Stripe settled."""
    s = run.subject
    on = s.day(s.updated_at)
    skip = before_post_from(run.mapping.post_from, on, "failed refund's return")
    if skip:
        return skip
    missing(run.mapping, "item", "deposit")
    item = run.qbo.read("Item", str(run.mapping.item))
    income = (item.get("IncomeAccountRef") or {}).get("value")
    if not income:
        raise QuickBooksRejected("the mapping's income item has no income account in QuickBooks")
    return _back_into_clearing(
        run,
        row,
        earlier,
        on=on,
        named="failed refund",
        what="a failed refund's money",
        line=AccountLine(f"Refund failed: {s.of_invoice}", s.settled_amount or 0, str(income)),
        note=f"refund of {s.of_invoice} failed, returned by Stripe",
        stripe_refund=s.stripe_id,
    )


UNDEPOSITED_PAYOUT = (
    "not posted: Stripe payments are deposited to Undeposited Funds, so payouts are not "
    "posted as Transfers (record the payout's deposit in QuickBooks, or map a clearing "
    "account such as Stripe Clearing)"
)


def _transfer(run: MoveRun, row: Row, earlier: bool, *, back: bool) -> dict[str, Any] | str:
    s = run.subject
    on = s.day(s.failed_at or s.updated_at) if back else (s.arrival_date or s.day(None))
    what = "failed payout's return" if back else "payout"
    skip = before_post_from(run.mapping.post_from, on, what)
    if skip:
        return skip
    missing(run.mapping, "deposit")
    not_mapped_yet(run.mapping, "payout")
    if run.undeposited():
        return UNDEPOSITED_PAYOUT
    currency = run.home_only(s.currency, what)
    clearing, bank = str(run.mapping.deposit), str(run.mapping.payout)
    body = documents.transfer(
        from_account_id=bank if back else clearing,
        to_account_id=clearing if back else bank,
        amount=s.amount,
        currency=currency,
        txn_date=on,
        memo=documents.movement_memo(
            row.kind,
            s.stripe_id,
            "Stripe payout failed, funds back in the Stripe balance" if back else "Stripe payout",
        ),
    )
    found = run.make("Transfer", body, row, on, earlier)
    return _result(
        found, "Transfer", from_qbo(found["Amount"], currency), currency, stripe_payout=s.stripe_id
    )


def _payout(run: MoveRun, row: Row, earlier: bool) -> dict[str, Any] | str:
    return _transfer(run, row, earlier, back=False)


def _payout_return(run: MoveRun, row: Row, earlier: bool) -> dict[str, Any] | str:
    payout = run.posted.get(K.payout.value)
    if payout is None or payout.state != "posted":
        return "not posted: the payout itself was not posted, so there is nothing to return"
    return _transfer(run, row, earlier, back=True)


RUNNERS = {
    K.refund_return.value: _refund_return,
    K.refund.value: _refund,
    K.dispute.value: _dispute,
    K.reinstatement.value: _reinstatement,
    K.payout.value: _payout,
    K.payout_return.value: _payout_return,
}
