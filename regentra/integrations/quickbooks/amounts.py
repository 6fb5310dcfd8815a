"""Money at the QuickBooks boundary: the one conversion between our integer minor units and
QuickBooks' decimal amounts (JSON numbers in the currency's major unit, at most two
decimals).

Amounts go out as JSON numbers. Python writes a float with the shortest text that reads
back as the same float, so a two-decimal value below 1e11 is written exactly ("12.34"); the
float exists only as that text. Answers are read with `parse_float=Decimal`, never as floats.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from regentra.integrations.quickbooks.errors import QuickBooksRejected
from regentra.kit.money import precision

QBO_DECIMALS = 2


def to_qbo(amount_minor: int, currency: str) -> float:
    """Our minor units as QuickBooks' amount (e.g. 12345 USD → 123.45)."""
    exact = Decimal(amount_minor).scaleb(-precision(currency))
    if exact != exact.quantize(Decimal(1).scaleb(-QBO_DECIMALS)):
        raise QuickBooksRejected(
            f"{exact} {currency.upper()} has more than {QBO_DECIMALS} decimals, which QuickBooks "
            "cannot record"
        )
    return float(exact)


def from_qbo(amount: Decimal | int | str, currency: str) -> int:
    """QuickBooks' amount as our minor units (exact; a fraction of a minor unit is refused)."""
    exact = Decimal(str(amount)).scaleb(precision(currency))
    if exact != exact.to_integral_value():
        raise QuickBooksRejected(
            f"QuickBooks answered {amount} {currency.upper()}, which is not a whole number of "
            "minor units"
        )
    return int(exact)


def rate(value: Decimal | float | str) -> float:
    """An exchange rate for QuickBooks (home currency units per one foreign unit)."""
    return float(Decimal(str(value)))


CENT = Decimal("0.01")


def exact_rate(
    amount: int,
    currency: str,
    settled: int,
    settlement_currency: str,
    *,
    shown: Decimal | None = None,
) -> Decimal | None:
    """A rate such that QuickBooks' home amount (`amount` * rate, rounded to the cent) is
    exactly `settled` (what Stripe settled, in the home currency): Stripe's shown rate when it
    does (it is rounded, and over a large amount it can miss by cents), else settled /
    amount with the fewest decimals (6 to 12) that does; `shown` when none does."""
    if amount <= 0 or settled <= 0:
        return shown
    charged = Decimal(amount).scaleb(-precision(currency))
    home = Decimal(settled).scaleb(-precision(settlement_currency))
    candidates = [shown] if shown is not None else []
    for places in range(6, 13):
        candidates.append((home / charged).quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN))
    for rate in candidates:
        if (charged * rate).quantize(CENT, ROUND_HALF_UP) == home:
            return rate
    return shown
