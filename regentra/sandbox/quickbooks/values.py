"""Field checks shared by the entity validators: references, amounts, currencies."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from regentra.sandbox.quickbooks.errors import QboFault, business, invalid, invalid_reference
from regentra.sandbox.quickbooks.state import Company

EXPENSE_TYPES = {"Expense", "Other Expense", "Cost of Goods Sold"}


def money(value: Any, element: str) -> Decimal:
    """A decimal amount with at most two decimals (QuickBooks amounts are decimals)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid(f"{element} is not a number: {value!r}", element) from None
    if not amount.is_finite():
        raise invalid(f"{element} is not a number: {value!r}", element)
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):  # type: ignore[operator]
        raise business(f"{element} has more than two decimals: {value}", element)
    return amount.quantize(Decimal("0.01"))


def as_json(amount: Decimal) -> float:
    return float(amount)


def ref_id(body: dict[str, Any], name: str) -> str | None:
    ref = body.get(name)
    if ref is None:
        return None
    if not isinstance(ref, dict) or not str(ref.get("value", "")).strip():
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
        if Decimal(str(body["ExchangeRate"])) != 1:
            raise business("ExchangeRate must be 1 for a home-currency transaction", "ExchangeRate")
        return
    rate = body.get("ExchangeRate")
    if rate in (None, "", 0):
        raise business(
            f"ExchangeRate is required for a transaction in {currency} "
            f"(home currency {company.home_currency})",
            "ExchangeRate",
        )
    try:
        if Decimal(str(rate)) <= 0:
            raise ValueError
    except (InvalidOperation, ValueError):
        raise invalid(f"ExchangeRate is not a positive number: {rate!r}", "ExchangeRate") from None
