"""Field checks shared by the entity validators: references, amounts, currencies."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from regentra.sandbox.quickbooks.errors import QboFault, business, invalid, invalid_reference
from regentra.sandbox.quickbooks.state import Company

EXPENSE_TYPES = {"Expense", "Other Expense", "Cost of Goods Sold"}
# The largest amount or exchange rate accepted (docs silent: stricter, refused as out of range).
MAX_AMOUNT = Decimal("1e11")


def number(value: Any, element: str) -> Decimal:
    """A finite JSON number (or numeric string) no larger than MAX_AMOUNT in magnitude."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(f"{element} is not a number: {value!r}", element)
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid(f"{element} is not a number: {value!r}", element) from None
    if not amount.is_finite():
        raise invalid(f"{element} is not a number: {value!r}", element)
    if abs(amount) > MAX_AMOUNT:
        raise business(f"{element} is out of range: {value}", element)
    return amount


def money(value: Any, element: str) -> Decimal:
    """A decimal amount with at most two decimals (QuickBooks amounts are decimals)."""
    amount = number(value, element)
    try:
        rounded = amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        raise business(f"{element} is out of range: {value}", element) from None
    if amount != rounded:
        raise business(f"{element} has more than two decimals: {value}", element)
    return rounded


def as_object(value: Any, element: str) -> dict[str, Any]:
    """An optional JSON object (absent or null: empty); any other type is fault 2010."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{element} must be an object", element)
    return value


def as_objects(value: Any, element: str) -> list[dict[str, Any]]:
    """An optional list of JSON objects (absent or null: empty); else fault 2010."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise invalid(f"{element} must be a list of objects", element)
    return value


def text(body: dict[str, Any], name: str) -> str | None:
    """An optional string field; any other JSON type is fault 2010."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{name} must be a string", name)
    return value


def as_json(amount: Decimal) -> float:
    return float(amount)


def settle_total(body: dict[str, Any], total: Decimal) -> None:
    """`TotalAmt`, when sent, must equal the lines' `total` (6000); it is set to it."""
    if body.get("TotalAmt") not in (None, "") and money(body["TotalAmt"], "TotalAmt") != total:
        raise business(
            f"TotalAmt ({body['TotalAmt']}) does not equal the sum of the lines ({total})",
            "TotalAmt",
        )
    body["TotalAmt"] = as_json(total)


def ref_id(body: dict[str, Any], name: str) -> str | None:
    ref = body.get(name)
    if ref is None:
        return None
    if not isinstance(ref, dict):
        raise invalid(f"{name} must be an object", name)
    value = ref.get("value", "")
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise invalid(f"{name}.value is required", name)
    return str(ref["value"])


def resolve(
    company: Company, entity: str, object_id: str, element: str, *, active: bool = True
) -> dict[str, Any]:
    """The referenced object; a missing one is 2500 Invalid Reference Id, an inactive one
    610 Object Not Found ("Something you're trying to use has been made inactive")."""
    obj = company.of(entity).get(object_id)
    if obj is None:
        raise invalid_reference(entity + "s", object_id, element)
    if active and obj.get("Active") is False:
        raise QboFault(
            "Object Not Found",
            f"Object Not Found : Something you're trying to use has been made inactive. "
            f"Check the fields with accounts, customers, items, vendors or employees. "
            f"({element} {object_id})",
            "610",
            element=element,
        )
    return obj


def currency_of(company: Company, body: dict[str, Any], default: str) -> str:
    code = ref_id(body, "CurrencyRef") or default
    return code.upper()


def check_currency(company: Company, body: dict[str, Any], currency: str, element: str) -> None:
    """A foreign-currency object needs multicurrency on; a foreign transaction also needs
    an ExchangeRate (home currency units per one foreign unit)."""
    if currency == company.home_currency:
        body["CurrencyRef"] = {"value": currency}
        return
    if not company.multicurrency:
        raise business(
            f"Multicurrency is not enabled for this company; {element} in {currency} is not "
            f"allowed (home currency {company.home_currency})",
            "CurrencyRef",
        )
    body["CurrencyRef"] = {"value": currency}


def check_exchange_rate(company: Company, body: dict[str, Any], currency: str) -> None:
    if currency == company.home_currency:
        body.setdefault("ExchangeRate", 1)
        if number(body["ExchangeRate"], "ExchangeRate") != 1:
            raise business("ExchangeRate must be 1 for a home-currency transaction", "ExchangeRate")
        return
    rate = body.get("ExchangeRate")
    if rate in (None, "", 0):
        raise business(
            f"ExchangeRate is required for a transaction in {currency} "
            f"(home currency {company.home_currency})",
            "ExchangeRate",
        )
    if number(rate, "ExchangeRate") <= 0:
        raise invalid(f"ExchangeRate is not a positive number: {rate!r}", "ExchangeRate")
