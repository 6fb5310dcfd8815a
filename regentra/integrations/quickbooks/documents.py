"""The QuickBooks bodies Regentra posts, built from plain facts (no database, no calls).

Amounts go through `amounts.to_qbo` only. Each body carries a stable reference that a later
attempt can query for when it cannot rely on the `requestid` replay alone: `DocNumber` on the
Invoice (our number), the CreditMemo (`CR-` + our number) and the Purchase (`FEE-` + our
number), `PaymentRefNum` (our number) on the Payment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from regentra.integrations.quickbooks.amounts import rate as qbo_rate
from regentra.integrations.quickbooks.amounts import to_qbo

DOC_NUMBER_MAX = 21  # QuickBooks' DocNumber length
MEMO_MAX = 4000


def quoted(text: str) -> str:
    """`text` as a string literal of a QuickBooks query: in single quotes, with backslashes
    and single quotes escaped (e.g. `DisplayName = 'O\\'Brien'`)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def doc_number(number: str, prefix: str = "") -> str:
    """`prefix` + our invoice number, cut to QuickBooks' 21 characters from the left (the
    distinguishing digits are at the end of our numbers)."""
    text = prefix + number
    return (
        text if len(text) <= DOC_NUMBER_MAX else prefix + number[-(DOC_NUMBER_MAX - len(prefix)) :]
    )


def credit_number(number: str) -> str:
    return doc_number(number, "CR-")


def fee_number(number: str) -> str:
    return doc_number(number, "FEE-")


@dataclass(frozen=True)
class Line:
    description: str
    amount: int  # minor units of the invoice's currency
    quantity: int = 1
    service_date: date | None = None
    item_id: str | None = None  # its own income item (a mapped catalog item's), else the body's


def _ref(value: str) -> dict[str, str]:
    return {"value": value}


def _currency(body: dict[str, Any], currency: str, home: str, rate: Decimal | None) -> None:
    body["CurrencyRef"] = _ref(currency)
    if currency != home:
        if rate is None:
            raise ValueError(f"a {currency} transaction needs an exchange rate into {home}")
        body["ExchangeRate"] = qbo_rate(rate)


def _sales_lines(lines: list[Line], currency: str, item_id: str) -> list[dict[str, Any]]:
    out = []
    for number, line in enumerate(lines, start=1):
        detail: dict[str, Any] = {"ItemRef": _ref(line.item_id or item_id)}
        if line.service_date is not None:
            detail["ServiceDate"] = line.service_date.isoformat()
        out.append(
            {
                "LineNum": number,
                "Description": line.description[:4000],
                "Amount": to_qbo(line.amount, currency),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": detail,
            }
        )
    return out


def invoice(
    *,
    number: str,
    customer_id: str,
    item_id: str,
    lines: list[Line],
    currency: str,
    home: str,
    rate: Decimal | None,
    txn_date: date,
    due_date: date | None,
    memo: str,
) -> dict[str, Any]:
    """The mirror of one of our invoices (one line per our line, on its own item when it
    has one, else `item_id`: QuickBooks names the item on each line)."""
    body: dict[str, Any] = {
        "DocNumber": doc_number(number),
        "CustomerRef": _ref(customer_id),
        "TxnDate": txn_date.isoformat(),
        "Line": _sales_lines(lines, currency, item_id),
        "PrivateNote": memo[:MEMO_MAX],
    }
    if due_date is not None:
        body["DueDate"] = due_date.isoformat()
    _currency(body, currency, home, rate)
    return body


def credit_memo(
    *,
    number: str,
    customer_id: str,
    item_id: str,
    amount: int,
    currency: str,
    home: str,
    rate: Decimal | None,
    txn_date: date,
) -> dict[str, Any]:
    """The customer's Stripe credit balance applied to invoice `number`, as a CreditMemo."""
    body: dict[str, Any] = {
        "DocNumber": credit_number(number),
        "CustomerRef": _ref(customer_id),
        "TxnDate": txn_date.isoformat(),
        "Line": _sales_lines(
            [Line(f"Stripe credit balance applied to invoice {number}", amount)],
            currency,
            item_id,
        ),
        "PrivateNote": f"Regentra: credit balance applied in Stripe to invoice {number}",
    }
    _currency(body, currency, home, rate)
    return body


def payment(
    *,
    number: str,
    customer_id: str,
    invoice_id: str,
    invoice_amount: int,
    credit_memo_id: str | None,
    credit_amount: int,
    amount: int,
    currency: str,
    home: str,
    rate: Decimal | None,
    deposit_account_id: str,
    txn_date: date,
    memo: str,
) -> dict[str, Any]:
    """The payment of invoice `number`: `amount` collected, applied to the mirrored Invoice
    (`invoice_amount`) together with the CreditMemo's credit (`credit_amount`) so that the
    invoice is settled."""
    lines: list[dict[str, Any]] = [
        {
            "Amount": to_qbo(invoice_amount, currency),
            "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}],
        }
    ]
    if credit_memo_id is not None and credit_amount > 0:
        lines.append(
            {
                "Amount": to_qbo(credit_amount, currency),
                "LinkedTxn": [{"TxnId": credit_memo_id, "TxnType": "CreditMemo"}],
            }
        )
    body: dict[str, Any] = {
        "CustomerRef": _ref(customer_id),
        "TotalAmt": to_qbo(amount, currency),
        "TxnDate": txn_date.isoformat(),
        "PaymentRefNum": doc_number(number),
        "DepositToAccountRef": _ref(deposit_account_id),
        "PrivateNote": memo[:MEMO_MAX],
        "Line": lines,
    }
    _currency(body, currency, home, rate)
    return body


@dataclass(frozen=True)
class FeeLine:
    description: str
    amount: int  # minor units of the settlement currency


def purchase(
    *,
    number: str,
    payment_type: str,
    paid_from_account_id: str,
    vendor_id: str,
    expense_account_id: str,
    lines: list[FeeLine],
    currency: str,
    home: str,
    rate: Decimal | None,
    txn_date: date,
    memo: str,
) -> dict[str, Any]:
    """Stripe's fee for invoice `number`: one expense line per fee component."""
    body: dict[str, Any] = {
        "DocNumber": fee_number(number),
        "PaymentType": payment_type,
        "AccountRef": _ref(paid_from_account_id),
        "EntityRef": {"value": vendor_id, "type": "Vendor"},
        "TxnDate": txn_date.isoformat(),
        "PrivateNote": memo[:MEMO_MAX],
        "Line": [
            {
                "Amount": to_qbo(line.amount, currency),
                "Description": line.description[:4000],
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": _ref(expense_account_id)},
            }
            for line in lines
        ],
    }
    _currency(body, currency, home, rate)
    return body


def void(qbo_id: str, sync_token: str) -> dict[str, Any]:
    return {"Id": qbo_id, "SyncToken": sync_token}


PAYMENT_TYPES = {"Bank": "Check", "Credit Card": "CreditCard"}


def payment_type(account_type: str | None) -> str | None:
    """The Purchase `PaymentType` for an account paid from: Check for a Bank account (Intuit:
    "Check must specify bank account"), CreditCard for a Credit Card account."""
    return PAYMENT_TYPES.get(account_type or "")


# ---- money movements (refunds, disputes, payouts) ---------------------------------------------
# No DocNumber (several per invoice, and a Transfer has none): the stable reference is the
# memo's start, "Regentra <kind> <Stripe id>:", looked up among the objects of the same TxnDate.


def movement_memo(kind: str, stripe_id: str, words: str) -> str:
    return f"{movement_reference(kind, stripe_id)} {words}"[:MEMO_MAX]


def movement_reference(kind: str, stripe_id: str) -> str:
    return f"Regentra {kind} {stripe_id}:"


def refund_receipt(
    *,
    customer_id: str,
    item_id: str,
    description: str,
    amount: int,
    currency: str,
    home: str,
    rate: Decimal | None,
    paid_from_account_id: str,
    txn_date: date,
    memo: str,
) -> dict[str, Any]:
    """A refund to the customer, paid from `paid_from_account_id` (the Stripe clearing
    account), one line on the income item."""
    body: dict[str, Any] = {
        "CustomerRef": _ref(customer_id),
        "DepositToAccountRef": _ref(paid_from_account_id),
        "TxnDate": txn_date.isoformat(),
        "Line": _sales_lines([Line(description, amount)], currency, item_id),
        "PrivateNote": memo[:MEMO_MAX],
    }
    _currency(body, currency, home, rate)
    return body


@dataclass(frozen=True)
class AccountLine:
    description: str
    amount: int  # minor units
    account_id: str


def expense(
    *,
    payment_type: str,
    paid_from_account_id: str,
    vendor_id: str,
    lines: list[AccountLine],
    currency: str,
    txn_date: date,
    memo: str,
) -> dict[str, Any]:
    """A Purchase (in the home currency) with one expense line per account."""
    return {
        "PaymentType": payment_type,
        "AccountRef": _ref(paid_from_account_id),
        "EntityRef": {"value": vendor_id, "type": "Vendor"},
        "TxnDate": txn_date.isoformat(),
        "PrivateNote": memo[:MEMO_MAX],
        "CurrencyRef": _ref(currency),
        "Line": [
            {
                "Amount": to_qbo(line.amount, currency),
                "Description": line.description[:4000],
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": _ref(line.account_id)},
            }
            for line in lines
        ],
    }


def deposit(
    *,
    to_account_id: str,
    lines: list[AccountLine],
    currency: str,
    txn_date: date,
    memo: str,
    payments: Sequence[tuple[str, int]] = (),
) -> dict[str, Any]:
    """A Deposit (in the home currency) into `to_account_id`: first a line per Payment held in
    Undeposited Funds (`payments`: its Id and whole amount), then each line from an account
    (negative for money taken out, e.g. fees)."""
    return {
        "DepositToAccountRef": _ref(to_account_id),
        "TxnDate": txn_date.isoformat(),
        "PrivateNote": memo[:MEMO_MAX],
        "CurrencyRef": _ref(currency),
        "Line": [
            {
                "Amount": to_qbo(amount, currency),
                "LinkedTxn": [{"TxnId": payment_id, "TxnType": "Payment", "TxnLineId": "0"}],
            }
            for payment_id, amount in payments
        ]
        + [
            {
                "Amount": to_qbo(line.amount, currency),
                "Description": line.description[:4000],
                "DetailType": "DepositLineDetail",
                "DepositLineDetail": {"AccountRef": _ref(line.account_id)},
            }
            for line in lines
        ],
    }


def transfer(
    *,
    from_account_id: str,
    to_account_id: str,
    amount: int,
    currency: str,
    txn_date: date,
    memo: str,
) -> dict[str, Any]:
    """A Transfer of `amount` (the home currency) between two balance-sheet accounts."""
    return {
        "FromAccountRef": _ref(from_account_id),
        "ToAccountRef": _ref(to_account_id),
        "Amount": to_qbo(amount, currency),
        "TxnDate": txn_date.isoformat(),
        "PrivateNote": memo[:MEMO_MAX],
    }  # no CurrencyRef: a Transfer is in its accounts' currency (python-quickbooks has none)
