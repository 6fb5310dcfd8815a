"""Money movements: Transfer, Deposit, CreditMemo, RefundReceipt.

A Transfer moves an amount between two different balance-sheet accounts. A Deposit moves
money into a bank (or other current asset) account: lines either link a Payment held in
Undeposited Funds (`LinkedTxn` TxnType Payment, the whole payment, once) or name the
account the money came from (`DepositLineDetail.AccountRef`). A CreditMemo is an
invoice-shaped credit for a customer (`RemainingCredit`); a RefundReceipt pays a customer
back from `DepositToAccountRef`. A deposited Payment cannot be changed, voided or deleted
until the deposit is deleted (or its line removed).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from regentra.sandbox.quickbooks.errors import QboFault, business, required
from regentra.sandbox.quickbooks.state import Company, Sandbox
from regentra.sandbox.quickbooks.transactions import (
    _customer,
    _doc_number,
    _lines,
    _txn_currency,
    _voided,
    sales_document,
    sales_lines,
)
from regentra.sandbox.quickbooks.values import (
    as_json,
    as_object,
    as_objects,
    check_currency,
    check_exchange_rate,
    currency_of,
    money,
    ref_id,
    resolve,
    settle_total,
)

# Balance-sheet accounts a Transfer may use. A/R and A/P are left out: QuickBooks' transfer
# form does not offer them (docs silent for the API: stricter reading).
TRANSFER_TYPES = {
    "Bank", "Other Current Asset", "Fixed Asset", "Other Asset", "Credit Card",
    "Other Current Liability", "Long Term Liability", "Equity",
}  # fmt: skip
DEPOSIT_TO = {"Bank", "Other Current Asset"}
REFUND_FROM = {"Bank", "Other Current Asset", "Credit Card"}
UNDEPOSITED = "UndepositedFunds"


def _account(company: Company, body: dict[str, Any], name: str, kinds: set[str]) -> dict[str, Any]:
    account_id = ref_id(body, name)
    if account_id is None:
        raise required(name)
    account = resolve(company, "Account", account_id, name)
    if account["AccountType"] not in kinds:
        raise business(
            f"{name} {account_id} ({account['AccountType']}) must be one of: "
            f"{', '.join(sorted(kinds))}",
            name,
        )
    return account


def _undeposited(account: dict[str, Any]) -> bool:
    return account.get("AccountSubType") == UNDEPOSITED


def _in_account_currency(
    company: Company, body: dict[str, Any], account: dict[str, Any], what: str
) -> str:
    account_currency = str(account["CurrencyRef"]["value"])
    currency = currency_of(company, body, account_currency)
    if currency != account_currency:
        raise business(
            f"The {what} currency ({currency}) must be the account's ({account_currency})",
            "CurrencyRef",
        )
    check_currency(company, body, currency, f"a {what}")
    check_exchange_rate(company, body, currency)
    return currency


def transfer(
    sandbox: Sandbox, company: Company, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    source = _account(company, body, "FromAccountRef", TRANSFER_TYPES)
    target = _account(company, body, "ToAccountRef", TRANSFER_TYPES)
    if source["Id"] == target["Id"]:
        raise business("FromAccountRef and ToAccountRef must be different accounts", "ToAccountRef")
    if source["CurrencyRef"] != target["CurrencyRef"]:
        # Docs silent on cross-currency transfers through the API: stricter reading.
        raise business("A transfer's two accounts must have the same currency", "ToAccountRef")
    if body.get("Amount") in (None, ""):
        raise required("Amount")
    amount = money(body["Amount"], "Amount")
    if amount <= 0:
        raise business("A transfer's Amount must be greater than zero", "Amount")
    body["Amount"] = as_json(amount)
    _in_account_currency(company, body, source, "transfer")
    body.setdefault("TxnDate", sandbox.stamp()[:10])
    return body


def deposited_in(company: Company, payment_id: str, own: str | None = None) -> str | None:
    """The Id of the deposit (other than `own`) that holds the payment, if any."""
    for deposit in company.of("Deposit").values():
        if deposit["Id"] == own:
            continue
        for line in deposit.get("Line") or []:
            for link in line.get("LinkedTxn") or []:
                if link.get("TxnType") == "Payment" and str(link.get("TxnId")) == payment_id:
                    return str(deposit["Id"])
    return None


def _linked_payment(
    company: Company, line: dict[str, Any], currency: str, own: str | None, seen: set[str]
) -> Decimal:
    links = as_objects(line["LinkedTxn"], "Line.LinkedTxn")
    if len(links) != 1 or links[0].get("TxnType") != "Payment":
        raise business("A deposit line links exactly one Payment", "Line.LinkedTxn")
    if line.get("DepositLineDetail"):
        raise business("A linked deposit line cannot also have a DepositLineDetail", "Line")
    payment_id = str(links[0].get("TxnId", ""))
    payment = company.of("Payment").get(payment_id)
    if payment is None or _voided(payment):
        raise QboFault(
            "Invalid Reference Id",
            f"Invalid Reference Id : Payment element id {payment_id} not found",
            "2500",
            element="LinkedTxn",
        )
    held = ref_id(payment, "DepositToAccountRef")
    if held is not None and not _undeposited(company.of("Account")[held]):
        raise business(
            f"Payment {payment_id} was deposited straight to an account, not held in "
            f"Undeposited Funds",
            "Line.LinkedTxn.TxnId",
        )
    other = deposited_in(company, payment_id, own)
    if other is not None or payment_id in seen:
        raise business(
            f"Payment {payment_id} has already been deposited (Deposit {other or own})",
            "Line.LinkedTxn.TxnId",
        )
    seen.add(payment_id)
    if payment["CurrencyRef"]["value"] != currency:
        raise business(f"Payment {payment_id} is not in the deposit's currency", "Line.LinkedTxn")
    total = Decimal(str(payment["TotalAmt"]))
    if "Amount" not in line:
        line["Amount"] = as_json(total)
    amount = money(line["Amount"], "Line.Amount")
    if amount != total:
        # Partial deposits of a payment: docs silent, stricter reading (whole payment).
        raise business(
            f"A deposit line must deposit the whole payment {payment_id} ({total}), not {amount}",
            "Line.Amount",
        )
    line["Amount"] = as_json(amount)
    return amount


def deposit(
    sandbox: Sandbox, company: Company, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    target = _account(company, body, "DepositToAccountRef", DEPOSIT_TO)
    if _undeposited(target):
        raise business("A deposit cannot go to Undeposited Funds", "DepositToAccountRef")
    currency = _in_account_currency(company, body, target, "deposit")
    _doc_number(company, "Deposit", body, current)
    own = current["Id"] if current else None
    seen: set[str] = set()
    total = Decimal("0.00")
    for line in _lines(body):
        if line.get("LinkedTxn"):
            total += _linked_payment(company, line, currency, own, seen)
            continue
        if line.get("DetailType") != "DepositLineDetail":
            raise business(
                "A deposit line links a Payment or is a DepositLineDetail line", "Line.DetailType"
            )
        detail = as_object(line.get("DepositLineDetail"), "Line.DepositLineDetail")
        source_id = ref_id(detail, "AccountRef")
        if source_id is None:
            raise required("Line.DepositLineDetail.AccountRef")
        source = resolve(company, "Account", source_id, "DepositLineDetail.AccountRef")
        if source["Id"] == target["Id"]:
            raise business(
                "A deposit line cannot come from the account deposited to",
                "Line.DepositLineDetail.AccountRef",
            )
        if "Amount" not in line:
            raise required("Line.Amount")
        amount = money(line["Amount"], "Line.Amount")
        if amount == 0:
            raise business("A deposit line's Amount cannot be zero", "Line.Amount")
        line["Amount"] = as_json(amount)
        total += amount
    if total <= 0:
        # Negative lines (fees taken out) are allowed; a total at or below zero: stricter.
        raise business("A deposit's total must be greater than zero", "TotalAmt")
    settle_total(body, total)
    body.setdefault("TxnDate", sandbox.stamp()[:10])
    return body


def credit_memo(
    sandbox: Sandbox, company: Company, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    total = sales_document(company, "CreditMemo", body, current)
    if total <= 0:
        raise business("A credit memo's total must be greater than zero", "TotalAmt")
    # Credit already applied by payments (`LinkedTxn` Payment) stays applied.
    used = Decimal("0.00")
    if current is not None:
        used = Decimal(str(current["TotalAmt"])) - Decimal(
            str(current.get("RemainingCredit", current["TotalAmt"]))
        )
        body["LinkedTxn"] = current.get("LinkedTxn", [])
    if total < used:
        raise business("The credit memo total cannot be less than the credit applied from it")
    body["RemainingCredit"] = as_json(total - used)
    body["Balance"] = as_json(total - used)
    body.setdefault("TxnDate", sandbox.stamp()[:10])
    return body


def refund_receipt(
    sandbox: Sandbox, company: Company, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    customer = _customer(company, body)
    currency = _txn_currency(company, body, customer["CurrencyRef"]["value"])
    source = _account(company, body, "DepositToAccountRef", REFUND_FROM)
    # Undeposited Funds is allowed: Intuit-connected apps default refunds to it. A foreign
    # refund may be paid from a home-currency account, as a foreign payment may be received
    # into one (README rules table).
    if source["CurrencyRef"]["value"] not in (currency, company.home_currency):
        raise business(
            f"The refund account's currency must be the refund's ({currency}) or the home "
            f"currency ({company.home_currency})",
            "DepositToAccountRef",
        )
    _doc_number(company, "RefundReceipt", body, current)
    total = sales_lines(company, "RefundReceipt", body)
    if total <= 0:
        raise business("A refund's total must be greater than zero", "TotalAmt")
    body["Balance"] = 0
    body.setdefault("TxnDate", sandbox.stamp()[:10])
    return body


def check_change(company: Company, entity: str, obj: dict[str, Any], what: str) -> None:
    """A deposited Payment cannot be updated, voided or deleted while its deposit holds it."""
    if entity != "Payment":
        return
    deposit_id = deposited_in(company, str(obj["Id"]))
    if deposit_id is not None:
        raise business(
            f"Payment {obj['Id']} has been deposited (Deposit {deposit_id}): remove it from "
            f"the deposit before you {what} it",
            "LinkedTxn",
        )
