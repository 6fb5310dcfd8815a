"""Transactions: Invoice, Payment, Purchase, and what a Payment does to its invoices.

A Payment's lines link invoices of its customer (`LinkedTxn` TxnType Invoice); each linked
amount lowers that invoice's `Balance` and must not exceed it. `TotalAmt` may exceed the
linked amounts: the rest is the payment's `UnappliedAmt` (a credit for the customer). A
line may instead apply a CreditMemo of the customer (`LinkedTxn` TxnType CreditMemo): its
amount uses up that much of the memo's `RemainingCredit` and counts against the invoices
(invoices minus credits ≤ `TotalAmt`; a zero-dollar payment applies a credit to an invoice).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from regentra.sandbox.quickbooks.errors import QboFault, business, invalid, required
from regentra.sandbox.quickbooks.state import Company, Sandbox
from regentra.sandbox.quickbooks.values import (
    EXPENSE_TYPES,
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
    text,
)

PAYMENT_ACCOUNT = {"Cash": {"Bank"}, "Check": {"Bank"}, "CreditCard": {"Credit Card"}}
DEPOSIT_TYPES = {"Bank", "Other Current Asset"}


def read_only(
    sandbox: Sandbox, company: Company, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    raise QboFault("Unsupported Operation", "This entity cannot be changed through the API.", "500")


# The Preferences an app may change here, per section (other sections are read-only).
_CHANGEABLE_PREFS = {
    "SalesFormsPrefs": {"CustomTxnNumbers"},
    "CurrencyPrefs": {"MultiCurrencyEnabled"},
}


def preferences(
    sandbox: Sandbox, company: Company, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    """Update of the company's Preferences (never created). Sections merge field by field,
    so a sparse `{"SalesFormsPrefs": {"CustomTxnNumbers": false}}` keeps the rest. Custom
    transaction numbers (on: a duplicate DocNumber is refused) can be switched either way;
    multicurrency can be turned on, never off; the home currency never changes."""
    if current is None:
        return read_only(sandbox, company, body, current)
    merged = {k: v for k, v in current.items()}
    for section, fields in body.items():
        if section in ("Id", "SyncToken", "sparse", "domain", "MetaData"):
            continue
        if not isinstance(fields, dict):
            raise invalid(f"{section} must be an object", section)
        before = dict(current.get(section) or {})
        after = {**before, **fields}
        changed = {name for name in after if after.get(name) != before.get(name)}
        refused = changed - _CHANGEABLE_PREFS.get(section, set())
        if refused:
            name = sorted(refused)[0]
            raise business(f"{section}.{name} cannot be changed through the API", section)
        for name in changed:
            if not isinstance(after[name], bool):
                raise invalid(f"{section}.{name} must be true or false", f"{section}.{name}")
        if before.get("MultiCurrencyEnabled") and after.get("MultiCurrencyEnabled") is False:
            raise business("Multicurrency cannot be turned off once it is on", section)
        merged[section] = after
    company.multicurrency = bool(merged.get("CurrencyPrefs", {}).get("MultiCurrencyEnabled"))
    return merged


def _voided(obj: dict[str, Any]) -> bool:
    return obj.get("PrivateNote") == "Voided"


def _lines(body: dict[str, Any]) -> list[dict[str, Any]]:
    lines = as_objects(body.get("Line"), "Line")
    if not lines:
        raise required("Line")
    return lines


def _customer(company: Company, body: dict[str, Any]) -> dict[str, Any]:
    customer_id = ref_id(body, "CustomerRef")
    if customer_id is None:
        raise required("CustomerRef")
    return resolve(company, "Customer", customer_id, "CustomerRef")


def _txn_currency(company: Company, body: dict[str, Any], party_currency: str) -> str:
    currency = currency_of(company, body, party_currency)
    if currency != party_currency:
        raise business(
            f"The transaction currency ({currency}) must be the customer's or vendor's "
            f"currency ({party_currency})",
            "CurrencyRef",
        )
    check_currency(company, body, currency, "a transaction")
    check_exchange_rate(company, body, currency)
    return currency


def _doc_number(company: Company, entity: str, body: dict[str, Any], current: Any) -> None:
    number = body.get("DocNumber")
    if number in (None, ""):
        return
    if len(str(number)) > 21:
        raise business("DocNumber is longer than 21 characters", "DocNumber")
    prefs = next(iter(company.of("Preferences").values()), {})
    if not prefs.get("SalesFormsPrefs", {}).get("CustomTxnNumbers", False):
        return
    own = current["Id"] if current else None
    for other in company.of(entity).values():
        if other["Id"] != own and other.get("DocNumber") == number:
            raise QboFault(
                "Duplicate Document Number Error",
                f"Duplicate Document Number Error : You must specify a different number. "
                f"This number has already been used. DocNumber={number} is assigned to "
                f"TxnType={entity} with TxnId={other['Id']}",
                "6210",
                element="DocNumber",
            )


def sales_lines(company: Company, entity: str, body: dict[str, Any]) -> Decimal:
    """Check `SalesItemLineDetail` lines (an active item each, two-decimal amounts), set
    `TotalAmt` to their sum and return it. Used by Invoice, CreditMemo and RefundReceipt."""
    total = Decimal("0.00")
    for line in _lines(body):
        if line.get("DetailType") == "SubTotalLineDetail":
            continue
        if line.get("DetailType") != "SalesItemLineDetail":
            raise business(f"{entity} lines must be SalesItemLineDetail lines", "Line.DetailType")
        detail = as_object(line.get("SalesItemLineDetail"), "Line.SalesItemLineDetail")
        item_id = ref_id(detail, "ItemRef")
        if item_id is None:
            raise required("Line.SalesItemLineDetail.ItemRef")
        resolve(company, "Item", item_id, "ItemRef")
        if "Amount" not in line:
            raise required("Line.Amount")
        amount = money(line["Amount"], "Line.Amount")
        line["Amount"] = as_json(amount)
        total += amount
    body["TotalAmt"] = as_json(total)
    return total


def sales_document(
    company: Company, entity: str, body: dict[str, Any], current: dict[str, Any] | None
) -> Decimal:
    """An Invoice's or a CreditMemo's customer, currency, DocNumber and sales lines checked;
    their total."""
    customer = _customer(company, body)
    _txn_currency(company, body, customer["CurrencyRef"]["value"])
    _doc_number(company, entity, body, current)
    return sales_lines(company, entity, body)


def invoice(
    sandbox: Sandbox, company: Company, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    total = sales_document(company, "Invoice", body, current)
    paid = Decimal(str(current["TotalAmt"])) - Decimal(str(current["Balance"])) if current else 0
    if total < paid:
        raise business("The invoice total cannot be less than the payments applied to it")
    body["Balance"] = as_json(total - paid)
    body.setdefault("TxnDate", sandbox.stamp()[:10])
    body["LinkedTxn"] = current.get("LinkedTxn", []) if current else []
    return body


def payment(
    sandbox: Sandbox, company: Company, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    customer = _customer(company, body)
    _txn_currency(company, body, customer["CurrencyRef"]["value"])
    if body.get("TotalAmt") in (None, ""):
        raise required("TotalAmt")
    total = money(body["TotalAmt"], "TotalAmt")
    if total < 0:
        raise business("TotalAmt cannot be negative", "TotalAmt")
    deposit = ref_id(body, "DepositToAccountRef")
    if deposit is not None:
        account = resolve(company, "Account", deposit, "DepositToAccountRef")
        if account["AccountType"] not in DEPOSIT_TYPES:
            raise business(
                "DepositToAccountRef must be a bank or other current asset account",
                "DepositToAccountRef",
            )
    applied = Decimal("0.00")
    credited = Decimal("0.00")
    seen: dict[str, Decimal] = {}
    for line in as_objects(body.get("Line"), "Line"):
        amount = money(line.get("Amount", 0), "Line.Amount")
        if amount <= 0:
            raise business("A payment line's Amount must be positive", "Line.Amount")
        links = as_objects(line.get("LinkedTxn"), "Line.LinkedTxn")
        if len(links) != 1 or links[0].get("TxnType") not in ("Invoice", "CreditMemo"):
            raise business(
                "Each payment line links exactly one Invoice or CreditMemo", "Line.LinkedTxn"
            )
        if links[0].get("TxnType") == "CreditMemo":
            credit_id = str(links[0].get("TxnId", ""))
            seen["CreditMemo:" + credit_id] = (
                seen.get("CreditMemo:" + credit_id, Decimal("0.00")) + amount
            )
            _check_credit(company, customer, credit_id, seen["CreditMemo:" + credit_id])
            line["Amount"] = as_json(amount)
            credited += amount
            continue
        invoice_id = str(links[0].get("TxnId", ""))
        inv = company.of("Invoice").get(invoice_id)
        if inv is None or _voided(inv):
            raise QboFault(
                "Invalid Reference Id",
                f"Invalid Reference Id : Invoice element id {invoice_id} not found",
                "2500",
                element="LinkedTxn",
            )
        if inv["CustomerRef"]["value"] != customer["Id"]:
            raise business(
                f"Invoice {invoice_id} belongs to another customer", "Line.LinkedTxn.TxnId"
            )
        seen[invoice_id] = seen.get(invoice_id, Decimal("0.00")) + amount
        balance = Decimal(str(inv["Balance"]))
        if balance <= 0:
            raise business(f"Invoice {invoice_id} is already paid (Balance 0)", "LinkedTxn")
        if seen[invoice_id] > balance:
            raise business(
                f"The amount applied to invoice {invoice_id} ({seen[invoice_id]}) exceeds its "
                f"open balance ({balance})",
                "Line.Amount",
            )
        line["Amount"] = as_json(amount)
        applied += amount
    if credited > applied:
        raise business(
            f"The credits applied ({credited}) exceed the amounts applied to invoices ({applied})",
            "Line.Amount",
        )
    applied -= credited
    if applied > total:
        raise business(
            f"TotalAmt ({total}) is less than the amounts applied to invoices ({applied})",
            "TotalAmt",
        )
    body["TotalAmt"] = as_json(total)
    body["UnappliedAmt"] = as_json(total - applied)
    body.setdefault("Line", [])
    body.setdefault("TxnDate", sandbox.stamp()[:10])
    return body


def purchase(
    sandbox: Sandbox, company: Company, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    kind = text(body, "PaymentType")
    if kind is None:
        raise required("PaymentType")
    if kind not in PAYMENT_ACCOUNT:
        raise invalid(f"PaymentType must be Cash, Check or CreditCard, not {kind!r}", "PaymentType")
    account_id = ref_id(body, "AccountRef")
    if account_id is None:
        raise required("AccountRef")
    account = resolve(company, "Account", account_id, "AccountRef")
    if account["AccountType"] not in PAYMENT_ACCOUNT[kind]:
        wanted = "a credit card account" if kind == "CreditCard" else "a bank account"
        raise business(f"PaymentType {kind} needs AccountRef to be {wanted}", "AccountRef")
    account_currency = account["CurrencyRef"]["value"]
    vendor_id = ref_id(body, "EntityRef")
    party: dict[str, Any] | None = None
    if vendor_id is not None:
        kind_of = (text(body["EntityRef"], "type") or "Vendor").capitalize()
        if kind_of not in ("Vendor", "Customer"):
            raise invalid("EntityRef.type must be Vendor or Customer", "EntityRef")
        party = resolve(company, kind_of, vendor_id, "EntityRef")
    if company.multicurrency and ref_id(body, "CurrencyRef") is None:
        # Purchase reference: CurrencyRef "must be defined if multicurrency is enabled".
        raise required("CurrencyRef")
    currency = currency_of(company, body, account_currency)
    if currency != account_currency:
        raise business(
            f"The purchase currency ({currency}) must be the account's ({account_currency})",
            "CurrencyRef",
        )
    if party is not None and party["CurrencyRef"]["value"] != currency:
        # A payee has one currency, and the expense is in it (README rules table).
        raise business(
            f"The purchase currency ({currency}) must be the payee's currency "
            f"({party['CurrencyRef']['value']})",
            "EntityRef",
        )
    check_currency(company, body, currency, "a purchase")
    check_exchange_rate(company, body, currency)
    _doc_number(company, "Purchase", body, current)
    total = Decimal("0.00")
    for line in _lines(body):
        if line.get("DetailType") != "AccountBasedExpenseLineDetail":
            raise business(
                "Purchase lines must be AccountBasedExpenseLineDetail lines", "Line.DetailType"
            )
        detail = as_object(
            line.get("AccountBasedExpenseLineDetail"), "Line.AccountBasedExpenseLineDetail"
        )
        expense_id = ref_id(detail, "AccountRef")
        if expense_id is None:
            raise required("Line.AccountBasedExpenseLineDetail.AccountRef")
        expense = resolve(company, "Account", expense_id, "AccountBasedExpenseLineDetail")
        if expense["AccountType"] not in EXPENSE_TYPES:
            raise business(
                f"Expense line account {expense_id} ({expense['AccountType']}) is not an "
                f"expense account",
                "Line.AccountBasedExpenseLineDetail.AccountRef",
            )
        if "Amount" not in line:
            raise required("Line.Amount")
        amount = money(line["Amount"], "Line.Amount")
        line["Amount"] = as_json(amount)
        total += amount
    settle_total(body, total)
    body.setdefault("TxnDate", sandbox.stamp()[:10])
    return body


# ---- effects of a payment on its invoices ----------------------------------------------------


def _check_credit(
    company: Company, customer: dict[str, Any], credit_id: str, amount: Decimal
) -> None:
    """A payment line applying a CreditMemo: of the same customer, with that much credit
    left."""
    memo = company.of("CreditMemo").get(credit_id)
    if memo is None:
        raise QboFault(
            "Invalid Reference Id",
            f"Invalid Reference Id : CreditMemo element id {credit_id} not found",
            "2500",
            element="LinkedTxn",
        )
    if memo["CustomerRef"]["value"] != customer["Id"]:
        raise business(
            f"CreditMemo {credit_id} belongs to another customer", "Line.LinkedTxn.TxnId"
        )
    remaining = Decimal(str(memo.get("RemainingCredit", memo["TotalAmt"])))
    if amount > remaining:
        raise business(
            f"The credit applied from credit memo {credit_id} ({amount}) exceeds its remaining "
            f"credit ({remaining})",
            "Line.Amount",
        )


def _links(obj: dict[str, Any], kind: str = "Invoice") -> list[tuple[str, Decimal]]:
    if _voided(obj):
        return []
    out = []
    for line in obj.get("Line") or []:
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") == kind:
                out.append((str(link["TxnId"]), Decimal(str(line["Amount"]))))
    return out


def _move_credit(company: Company, obj: dict[str, Any], sign: int) -> None:
    """A payment's CreditMemo lines use up (sign -1) or give back (+1) their credit."""
    for credit_id, amount in _links(obj, "CreditMemo"):
        memo = company.of("CreditMemo").get(credit_id)
        if memo is None:
            continue
        left = Decimal(str(memo.get("RemainingCredit", memo["TotalAmt"]))) + sign * amount
        memo["RemainingCredit"] = memo["Balance"] = as_json(left)
        link = {"TxnId": obj["Id"], "TxnType": "Payment"}
        links = memo.setdefault("LinkedTxn", [])
        if sign < 0 and link not in links:
            links.append(link)
        if sign > 0:
            memo["LinkedTxn"] = [t for t in links if t != link]


def before_change(sandbox: Sandbox, company: Company, entity: str, obj: dict[str, Any]) -> None:
    """Undo what `obj` did to other objects (before it is changed, deleted or voided)."""
    if entity != "Payment":
        return
    _move_credit(company, obj, +1)
    for invoice_id, amount in _links(obj):
        inv = company.of("Invoice").get(invoice_id)
        if inv is not None:
            inv["Balance"] = as_json(Decimal(str(inv["Balance"])) + amount)
            inv["LinkedTxn"] = [
                t
                for t in inv.get("LinkedTxn", [])
                if t != {"TxnId": obj["Id"], "TxnType": "Payment"}
            ]


def release(sandbox: Sandbox, company: Company, entity: str, obj: dict[str, Any]) -> None:
    """`obj` is deleted or voided: undo its effect, and the invoices it paid change (new
    SyncToken and LastUpdatedTime), so a sync by LastUpdatedTime sees their balance back."""
    before_change(sandbox, company, entity, obj)
    if entity != "Payment":
        return
    for invoice_id, _amount in _links(obj):
        inv = company.of("Invoice").get(invoice_id)
        if inv is not None:
            sandbox.touch(inv)


def after_change(
    sandbox: Sandbox,
    company: Company,
    entity: str,
    _old: Any,
    obj: dict[str, Any],
    *,
    touch: bool = True,
) -> None:
    """Apply what `obj` does to other objects (after it is created or changed). With
    `touch=False` (re-applying after a failed update) the invoices keep their SyncToken and
    LastUpdatedTime."""
    if entity != "Payment":
        return
    _move_credit(company, obj, -1)
    for invoice_id, amount in _links(obj):
        inv = company.of("Invoice")[invoice_id]
        inv["Balance"] = as_json(Decimal(str(inv["Balance"])) - amount)
        link = {"TxnId": obj["Id"], "TxnType": "Payment"}
        if link not in inv.setdefault("LinkedTxn", []):
            inv["LinkedTxn"].append(link)
        if touch:
            sandbox.touch(inv)


def check_delete(company: Company, entity: str, obj: dict[str, Any]) -> None:
    if entity in ("Invoice", "CreditMemo") and any(
        t.get("TxnType") == "Payment" for t in obj.get("LinkedTxn", [])
    ):
        raise business(
            "This invoice has payments applied to it: delete or void the payments first",
            "LinkedTxn",
        )


def void(obj: dict[str, Any]) -> None:
    """QuickBooks keeps a voided transaction with zero amounts and the note "Voided"."""
    for line in obj.get("Line") or []:
        line["Amount"] = 0
    obj["TotalAmt"] = 0
    if "Balance" in obj:
        obj["Balance"] = 0
    if "UnappliedAmt" in obj:
        obj["UnappliedAmt"] = 0
    obj["PrivateNote"] = "Voided"
