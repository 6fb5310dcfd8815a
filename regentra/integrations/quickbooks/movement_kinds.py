"""The movement postings themselves, one function per kind (`RUNNERS`): each makes its
QuickBooks object (or adopts the one an earlier attempt made) and returns what to record, or
a string saying why nothing is posted. The Stripe clearing account is the mapping's deposit
account for Stripe payments; every amount here leaves or enters it as it left or entered the
Stripe balance.

With Undeposited Funds as the deposit account for Stripe payments (payments wait there to be
grouped into a bank deposit), the clearing account of these postings is the account the
Stripe fees are paid from, and a payout is a Deposit into the payout bank account: one line
per QuickBooks Payment it paid out (out of Undeposited Funds), and one line from that account
for the rest (what Stripe took out: fees, refunds, disputes; payments Regentra did not post).
Undeposited Funds plus that account then follow the Stripe balance, and each payout's Deposit
matches the bank's line.

- refund: a RefundReceipt to the invoice's customer, paid from the clearing account, one line
  on the income item for the refund (the invoice's currency; a foreign one at the rate that
  makes the home amount what Stripe settled). A fee on the refund's balance transaction is a
  second object of the same posting (`details.fee_deposit` / `fee_purchase`): given back by
  Stripe (`settled_fee` < 0), a Deposit into the clearing account from the fee expense
  account; charged (> 0), a Purchase from the clearing account to the fee expense account.
- dispute: a Purchase paid from the clearing account to the fee vendor: the withdrawn amount
  to the dispute account, the dispute fee to the fee expense account.
- reinstatement: a Deposit into the clearing account from the dispute account.
- payout: a Transfer from the clearing account to the payout bank account (with Undeposited
  Funds: the Deposit above; a manual payout, whose contents Stripe does not list, is skipped
  saying so).
- payout_return: a Transfer back to the clearing account, for a failed payout (or one
  canceled after it was posted: Stripe returns the funds to the balance then too).

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

from sqlalchemy import select

from regentra.db import session_scope
from regentra.errors import RegentraError
from regentra.integrations.quickbooks import documents, movements
from regentra.integrations.quickbooks.amounts import exact_rate, from_qbo
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.integrations.quickbooks.documents import AccountLine
from regentra.integrations.quickbooks.errors import QuickBooksRejected
from regentra.integrations.quickbooks.mapping import UNDEPOSITED
from regentra.integrations.quickbooks.movement_rows import Row
from regentra.integrations.quickbooks.posting_context import NotYet, Run
from regentra.integrations.quickbooks.posting_facts import Facts, Mapping
from regentra.integrations.quickbooks.posting_kinds import (
    MAPPING_LABELS,
    _result,
    before_post_from,
    missing,
)
from regentra.integrations.stripe import client as stripe_client
from regentra.integrations.stripe import payout_contents
from regentra.integrations.stripe.errors import (
    StripeKeyRejected,
    StripePermissionDenied,
    StripeUnavailable,
)
from regentra.models import MovementKind, Payout, PostingKind, PostingState, QuickBooksPosting
from regentra.orgs.errors import StripeNotConnected

K = MovementKind
DEPOSIT_TO = ("Bank", "Other Current Asset")  # the account types a Deposit may go to


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
    automatic: bool = True  # a payout Stripe made by its schedule (it lists its contents)
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
    _accounts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.mapping.realm_id

    def _account(self, name: str, account_id: str | None) -> dict[str, Any]:
        """The mapped account's type and subtype: as the mapping's save read them (its
        label `name`), else read live."""
        key = str(account_id)
        if key not in self._accounts:
            label = self.mapping.labels.get(name)
            saved = isinstance(label, dict) and label.get("id") in (None, account_id)
            if isinstance(label, dict) and saved and label.get("type"):
                self._accounts[key] = {"type": label["type"], "subtype": label.get("subtype")}
            else:
                account = self.qbo.read("Account", key)
                self._accounts[key] = {
                    "type": account.get("AccountType"),
                    "subtype": account.get("AccountSubType"),
                }
        return self._accounts[key]

    def undeposited(self) -> bool:
        """Stripe payments are deposited to Undeposited Funds (see the module doc)."""
        deposit = self._account("deposit_account", self.mapping.deposit)
        return deposit.get("subtype") == UNDEPOSITED

    def clearing_id(self) -> str:
        """The account Stripe balance movements are posted through: the deposit account for
        Stripe payments, or with Undeposited Funds the account the fees are paid from."""
        if self.undeposited():
            missing(self.mapping, "paid_from")
            return str(self.mapping.paid_from)
        return str(self.mapping.deposit)

    def clearing(self) -> dict[str, Any]:
        """The clearing account's type and subtype."""
        if self.undeposited():
            return self._account("fee_paid_from_account", self.mapping.paid_from)
        return self._account("deposit_account", self.mapping.deposit)

    def clearing_words(self) -> str:
        return (
            "the account the Stripe fees are paid from (Stripe payments going to Undeposited Funds)"
            if self.undeposited()
            else "the deposit account for Stripe payments"
        )

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
        paid_from_account_id=run.clearing_id(),
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
            to_account_id=_into_clearing(run, "a refund's Stripe fee given back"),
            lines=[line],
            currency=home,
            txn_date=on,
            memo=memo,
        )
        entity = "Deposit"
    else:
        body = documents.expense(
            payment_type=_paid_from_clearing(run, "a refund's Stripe fee"),
            paid_from_account_id=run.clearing_id(),
            vendor_id=str(run.mapping.vendor),
            lines=[line],
            currency=home,
            txn_date=on,
            memo=memo,
        )
        entity = "Purchase"
    return str(run.make(entity, body, row, on, earlier, part="fee")["Id"])


def _paid_from_clearing(run: MoveRun, what: str = "a dispute") -> str:
    """The Purchase's PaymentType for money paid out of the clearing account."""
    kind = documents.payment_type(str(run.clearing().get("type") or ""))
    if kind is None or run.clearing().get("subtype") == UNDEPOSITED:
        raise QuickBooksRejected(
            f"{what} is paid out of {run.clearing_words()}, which must be a Bank or Credit "
            "Card account (a clearing account such as Stripe Clearing, not Undeposited Funds): "
            "change it in the QuickBooks mapping, then Retry"
        )
    return kind


def _into_clearing(run: MoveRun, what: str) -> str:
    """The clearing account, as a Deposit's target (a Bank or Other Current Asset account,
    not Undeposited Funds)."""
    account = run.clearing()
    if account.get("type") not in DEPOSIT_TO or account.get("subtype") == UNDEPOSITED:
        raise QuickBooksRejected(
            f"{what} goes back into {run.clearing_words()}, which must then be a Bank or Other "
            "Current Asset account (a clearing account such as Stripe Clearing, not "
            "Undeposited Funds): change it in the QuickBooks mapping, then Retry"
        )
    return run.clearing_id()


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
        paid_from_account_id=run.clearing_id(),
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
    body = documents.deposit(
        to_account_id=_into_clearing(run, what),
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


MANUAL_PAYOUT = (
    "not posted: a manual payout, whose contents Stripe does not list, cannot be matched to "
    "the payments in Undeposited Funds (record its deposit in QuickBooks by hand)"
)


def _transfer(run: MoveRun, row: Row, earlier: bool, *, back: bool) -> dict[str, Any] | str:
    """A payout as a Transfer from the clearing account to the payout bank account; `back`:
    a failed payout's return, the other way (with Undeposited Funds too: the payout's
    Deposit took its payments out of Undeposited Funds, the funds come back to the Stripe
    balance, which the clearing account follows)."""
    s = run.subject
    on = s.day(s.failed_at or s.updated_at) if back else (s.arrival_date or s.day(None))
    what = "failed payout's return" if back else "payout"
    skip = before_post_from(run.mapping.post_from, on, what)
    if skip:
        return skip
    missing(run.mapping, "deposit")
    not_mapped_yet(run.mapping, "payout")
    currency = run.home_only(s.currency, what)
    clearing, bank = run.clearing_id(), str(run.mapping.payout)
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


def _payout_deposit(run: MoveRun, row: Row, earlier: bool) -> dict[str, Any] | str:
    """With Undeposited Funds: the payout as a Deposit into the payout bank account of the
    QuickBooks Payments it paid out, and one line from the clearing account for the rest
    (see the module doc), dated the arrival date."""
    s = run.subject
    on = s.arrival_date or s.day(None)
    skip = before_post_from(run.mapping.post_from, on, "payout")
    if skip:
        return skip
    missing(run.mapping, "deposit", "paid_from")
    not_mapped_yet(run.mapping, "payout")
    currency = run.home_only(s.currency, "payout")
    if not s.automatic:
        return MANUAL_PAYOUT
    bank, clearing = str(run.mapping.payout), run.clearing_id()
    if clearing == bank:
        raise QuickBooksRejected(
            "the account the Stripe fees are paid from is the bank account payouts go to, so a "
            "payout's Deposit cannot take the fees back from it: choose a clearing account "
            "such as Stripe Clearing for the fees in the QuickBooks mapping, then Retry"
        )
    payments = _payments_paid_out(run, currency)
    rest = s.amount - sum(amount for _, amount in payments)
    lines = []
    if rest:
        lines.append(
            AccountLine(
                f"Stripe fees, refunds, disputes and other balance changes in payout {s.stripe_id}",
                rest,
                clearing,
            )
        )
    body = documents.deposit(
        to_account_id=bank,
        payments=payments,
        lines=lines,
        currency=currency,
        txn_date=on,
        memo=documents.movement_memo(row.kind, s.stripe_id, "Stripe payout"),
    )
    found = run.make("Deposit", body, row, on, earlier)
    return _result(
        found,
        "Deposit",
        from_qbo(found["TotalAmt"], currency),
        currency,
        stripe_payout=s.stripe_id,
        payments=[payment_id for payment_id, _ in payments],
        rest=rest,
    )


def _payments_paid_out(run: MoveRun, currency: str) -> list[tuple[str, int]]:
    """The QuickBooks Payments (Id, amount) of the payments the payout paid out, read from
    Stripe's list of its balance transactions. A payment Regentra did not post (no invoice
    of ours, or its posting skipped or in another company) is left to the rest line; one not
    posted yet makes the payout wait for it."""
    s = run.subject
    found = _payout_contents(s)
    paid = [(c.invoice_id, c.invoice_number) for c in found if c.kind == "payment" and c.invoice_id]
    with session_scope() as session:
        postings = {
            p.invoice_id: p
            for p in session.scalars(
                select(QuickBooksPosting).where(
                    QuickBooksPosting.org_id == s.org_id,
                    QuickBooksPosting.kind == PostingKind.payment.value,
                    QuickBooksPosting.invoice_id.in_({i for i, _ in paid} or {s.org_id}),
                )
            )
        }
        session.expunge_all()
    payments: list[tuple[str, int]] = []
    for invoice_id, number in paid:
        posting = postings.get(invoice_id)
        if posting is None or posting.state == PostingState.skipped.value:
            continue
        if posting.state == PostingState.failed.value:
            raise QuickBooksRejected(
                f"the payment of invoice {number} in this payout failed to post: Retry it on "
                "the invoice first, then this payout"
            )
        if posting.state != PostingState.posted.value:
            raise NotYet(f"waiting for the payment of invoice {number} to be posted")
        if posting.realm_id != run.realm or not posting.qbo_id:
            continue
        if (posting.currency or "").upper() != currency or posting.amount is None:
            raise QuickBooksRejected(
                f"the payment of invoice {number} was posted in {posting.currency}, not "
                f"{currency}, the payout's: deposit this payout in QuickBooks by hand"
            )
        payments.append((posting.qbo_id, posting.amount))
    return payments


def _payout_contents(s: Subject) -> list[payout_contents.Content]:
    """The payout's contents, read from Stripe now (no transaction open meanwhile)."""
    try:
        with session_scope() as session:
            stripe = stripe_client.for_org(session, s.org_id)
            payout = session.get(Payout, s.subject_id)
            if payout is None:
                raise QuickBooksRejected("the payout is not in Regentra any more")
            return payout_contents.contents(session, stripe, s.org_id, payout, strict=True)
    except StripeNotConnected:
        raise NotMappedYet(
            "waiting for Stripe: it is not connected (Settings → Integrations → Stripe), so the "
            "payments this payout paid out cannot be read"
        ) from None
    except (StripeKeyRejected, StripePermissionDenied) as exc:
        raise NotMappedYet(
            f"waiting for Stripe: it refused to list the payout's contents ({exc.message})"
        ) from None
    except StripeUnavailable as exc:
        raise NotYet(f"waiting for Stripe to list the payout's contents: {exc.message}") from None
    except QuickBooksRejected:
        raise
    except RegentraError as exc:
        raise QuickBooksRejected(
            f"Stripe refused to list the contents of payout {s.stripe_id}: {exc.message}"
        ) from None


def _payout(run: MoveRun, row: Row, earlier: bool) -> dict[str, Any] | str:
    if run.undeposited():
        return _payout_deposit(run, row, earlier)
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
