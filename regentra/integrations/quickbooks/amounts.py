"""Money at the QuickBooks boundary: the one conversion between our integer minor units and
QuickBooks' decimal amounts (JSON numbers in the currency's major unit, at most two
decimals).

Amounts go out as JSON numbers. Python writes a float with the shortest text that reads
back as the same float, so a two-decimal value below 1e11 is written exactly ("12.34"); the
float exists only as that text. Answers are read with `parse_float=Decimal`, never as floats.
"""

from __future__ import annotations

from decimal import Decimal

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
