"""Account balances computed from the company's transactions: the read-only view's table, and
each balance-sheet account's `CurrentBalance` (read-only in QuickBooks: python-quickbooks'
`Account.CurrentBalance = None  # Readonly`), kept current after every change.

Debit-positive amounts per account:

- Invoice: its open `Balance` on Accounts Receivable (the view's approximation of A/R).
- Payment: plus its deposit account (`DepositToAccountRef`, else Undeposited Funds).
- Purchase: minus the account paid from (`AccountRef`), plus each expense line's account.
- RefundReceipt: minus the account paid from (`DepositToAccountRef`).
- Deposit: plus the account deposited to; minus each direct line's account
  (`DepositLineDetail`), minus Undeposited Funds for each linked Payment.
- Transfer: minus `FromAccountRef`, plus `ToAccountRef`.

A foreign-currency transaction moves a home-currency account by its amount times its
`ExchangeRate` (rounded to the cent). A voided transaction has zero amounts, so it counts for
nothing. `CurrentBalance` is set on balance-sheet accounts only (QuickBooks: valid for
balance-sheet accounts), asset accounts debit-positive, liability and equity accounts
credit-positive (what is owed); income and expense accounts keep 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from regentra.sandbox.quickbooks.state import Company
from regentra.sandbox.quickbooks.values import as_json

ASSETS = {"Bank", "Other Current Asset", "Fixed Asset", "Other Asset", "Accounts Receivable"}
LIABILITIES = {
    "Credit Card", "Accounts Payable", "Other Current Liability", "Long Term Liability", "Equity",
}  # fmt: skip
UNDEPOSITED = "UndepositedFunds"


def _ref(obj: Any, name: str) -> str | None:
    ref = obj.get(name) if isinstance(obj, dict) else None
    value = ref.get("value") if isinstance(ref, dict) else None
    return str(value) if value is not None else None


def _amount(value: Any) -> Decimal:
    return Decimal(str(value if value not in (None, "") else 0))


def _lines(obj: dict[str, Any]) -> Iterable[dict[str, Any]]:
    return [line for line in obj.get("Line") or [] if isinstance(line, dict)]


def balances(company: Company) -> dict[str, Decimal]:
    """Each account's balance from the transactions (debit-positive, see the module doc)."""
    accounts = company.of("Account")
    out = {acc_id: Decimal("0") for acc_id in accounts}
    of_type = {a.get("AccountType"): a["Id"] for a in accounts.values()}
    undeposited = next(
        (a["Id"] for a in accounts.values() if a.get("AccountSubType") == UNDEPOSITED), None
    )

    def add(account_id: str | None, amount: Decimal, txn: dict[str, Any] | None = None) -> None:
        """`amount` of transaction `txn` into the account, in the account's currency: a
        foreign transaction's amount times its ExchangeRate into a home-currency account."""
        if account_id not in out:
            return
        currency = _ref(txn, "CurrencyRef") if txn is not None else None
        account = accounts[account_id]
        if currency and currency != _ref(account, "CurrencyRef") and txn is not None:
            rate = Decimal(str(txn.get("ExchangeRate") or 1))
            amount = (amount * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
        out[account_id] += amount

    for inv in company.of("Invoice").values():
        add(of_type.get("Accounts Receivable"), _amount(inv.get("Balance")))
    for pay in company.of("Payment").values():
        add(_ref(pay, "DepositToAccountRef") or undeposited, _amount(pay.get("TotalAmt")), pay)
    for pur in company.of("Purchase").values():
        add(_ref(pur, "AccountRef"), -_amount(pur.get("TotalAmt")), pur)
        for line in _lines(pur):
            add(
                _ref(line.get("AccountBasedExpenseLineDetail"), "AccountRef"),
                _amount(line["Amount"]),
            )
    for refund in company.of("RefundReceipt").values():
        add(_ref(refund, "DepositToAccountRef"), -_amount(refund.get("TotalAmt")), refund)
    for dep in company.of("Deposit").values():
        add(_ref(dep, "DepositToAccountRef"), _amount(dep.get("TotalAmt")), dep)
        for line in _lines(dep):
            source = _ref(line.get("DepositLineDetail"), "AccountRef")
            add(source if source else undeposited, -_amount(line.get("Amount")), dep)
    for move in company.of("Transfer").values():
        add(_ref(move, "FromAccountRef"), -_amount(move.get("Amount")))
        add(_ref(move, "ToAccountRef"), _amount(move.get("Amount")))
    return out


def refresh(company: Company) -> None:
    """Set `CurrentBalance` on every balance-sheet account (after a change)."""
    amounts = balances(company)
    for account in company.of("Account").values():
        kind = account.get("AccountType")
        if kind in ASSETS:
            balance = amounts[account["Id"]]
        elif kind in LIABILITIES:
            balance = -amounts[account["Id"]]
        else:
            continue
        account["CurrentBalance"] = as_json(balance)
