"""Money: integer minor units plus an ISO 4217 currency. Never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.core import Locale
from babel.numbers import format_currency, get_currency_precision, list_currencies

from regentra.errors import Invalid

_CURRENCIES = frozenset(list_currencies())


def is_currency(code: str) -> bool:
    return code in _CURRENCIES


def check_currency(code: str) -> str:
    """The ISO 4217 code in upper case, or a 422 a person can act on."""
    upper = code.upper()
    if not is_currency(upper):
        raise Invalid(f"currency '{upper}' is not an ISO 4217 code (e.g. USD, EUR, GBP)")
    return upper


def amount_for(rate_minor: int, minutes: int) -> int:
    """Amount in minor units for `minutes` at an hourly `rate_minor`: round half up.

    The one place this is computed: rate * minutes / 60, rounded half up.
    """
    if rate_minor < 0 or minutes < 0:
        raise ValueError("rate and minutes must not be negative")
    exact = Decimal(rate_minor) * Decimal(minutes) / Decimal(60)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def precision(currency: str) -> int:
    return int(get_currency_precision(currency))


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-precision(currency))


def format_money(amount_minor: int, currency: str, locale: str | Locale = "en_US") -> str:
    return str(format_currency(to_decimal(amount_minor, currency), currency, locale=locale))


def parse_major(text: str, currency: str) -> int:
    """Parse a user-typed amount in major units ("125", "125.50") into minor units."""
    cleaned = text.strip().replace(",", "")
    try:
        value = Decimal(cleaned)
    except ArithmeticError as exc:
        raise ValueError(f"'{text}' is not an amount") from exc
    if not value.is_finite():
        raise ValueError(f"'{text}' is not an amount")
    scaled = value.scaleb(precision(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"'{text}' has more decimals than {currency} allows")
    return int(scaled)
