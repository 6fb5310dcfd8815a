"""Money: integer minor units plus an ISO 4217 currency. Never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.core import Locale
from babel.numbers import format_currency, get_currency_precision, list_currencies

from regentra.errors import Invalid
from regentra.kit.currencies import (
    STRIPE_MAXIMUM_AMOUNT,
    line_step,
    stripe_decimals,
    stripe_supports,
)

_CURRENCIES = frozenset(list_currencies())


def is_currency(code: str) -> bool:
    return code in _CURRENCIES


def check_currency(code: str) -> str:
    """The ISO 4217 code in upper case, or a 422 a person can act on. Invoices are paid
    through Stripe, so only the currencies Stripe can charge in are accepted."""
    upper = code.upper()
    if not is_currency(upper):
        raise Invalid(f"currency '{upper}' is not an ISO 4217 code (e.g. USD, EUR, GBP)")
    if not stripe_supports(upper):
        raise Invalid(
            f"currency '{upper}' is not one Stripe can charge in, so invoices in it could not "
            "be paid: choose another currency (see docs.stripe.com/currencies)"
        )
    return upper


def _round_half_up(exact: Decimal, currency: str | None) -> int:
    """Round half up to a whole minor unit, or in the three-decimal currencies to a
    multiple of 10 (Stripe's amounts there must end in 0, see `kit.currencies`)."""
    step = Decimal(line_step(currency) if currency else 1)
    return int((exact / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def amount_for(rate_minor: int, minutes: int, currency: str | None = None) -> int:
    """Amount in minor units for `minutes` at an hourly `rate_minor`: round half up.

    The one place this is computed: rate * minutes / 60, rounded half up (to a multiple of
    10 in the three-decimal currencies when `currency` is given).
    """
    if rate_minor < 0 or minutes < 0:
        raise ValueError("rate and minutes must not be negative")
    exact = Decimal(rate_minor) * Decimal(minutes) / Decimal(60)
    return _round_half_up(exact, currency)


def round_minor(exact: Decimal, currency: str) -> int:
    """An exact amount in minor units (a prorated share) rounded like `amount_for`."""
    return _round_half_up(exact, currency)


def line_amount(unit_minor: int, quantity: int, currency: str) -> int:
    """A quantity times a unit amount, rounded like `amount_for` (to a multiple of 10 in
    the three-decimal currencies)."""
    if unit_minor < 0 or quantity < 0:
        raise ValueError("unit amount and quantity must not be negative")
    return _round_half_up(Decimal(unit_minor) * quantity, currency)


def precision(currency: str) -> int:
    return int(get_currency_precision(currency))


def maximum_charge(currency: str) -> int:
    """Stripe's maximum charge in our minor units (ISO's): 999,999.99 USD, 999,999 ISK (whose
    Stripe amounts have two more decimals than ours)."""
    return STRIPE_MAXIMUM_AMOUNT // int(10 ** (stripe_decimals(currency) - precision(currency)))


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-precision(currency))


@lru_cache(maxsize=8192)
def format_money(amount_minor: int, currency: str, locale: str | Locale = "en_US") -> str:
    """`amount_minor` written for people ("$1,250.00"). Cached: Babel's formatting is slow next
    to the rest of a page or a Stripe line, and the same amounts (rates, totals) recur."""
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
