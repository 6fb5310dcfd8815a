"""Fees as Stripe charges them: a charge's balance transaction in the account's settlement
currency.

Pricing (stripe.com/pricing, US): cards 2.9% + 30¢ for domestic cards, + 1.5% for
international cards (the card's country is not the account's), + 1% if currency conversion
is required (the charge's currency is not the settlement currency); ACH Direct Debit 0.8%
capped at $5.00. Percentages apply to the settled amount, rounded half up; the fixed fee is
30 minor units of the settlement currency. Stripe prices other countries differently
(stripe.com/<country>/pricing); the sandbox applies the US list prices to every account.

Conversion: the sandbox's fixed exchange rates (`USD_PER_UNIT`, roughly late-2026 mid-market,
not Stripe's live rates). As on the BalanceTransaction, the charge's amount in currency A
times `exchange_rate` is the amount in currency B (both in major units), and `amount`,
`fee`, `net` are in the settlement currency; `exchange_rate` is null without conversion.
`fee_details` has one `stripe_fee` ("Stripe processing fees") carrying the whole fee, as
Stripe reports a card payment's surcharges within its processing fee.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.state import Account

CARD_PERCENT = Decimal("0.029")
CARD_FIXED = 30
INTERNATIONAL_PERCENT = Decimal("0.015")
CONVERSION_PERCENT = Decimal("0.01")
ACH_PERCENT = Decimal("0.008")
ACH_CAP = 500

# The sandbox's exchange rates: US dollars per one unit of the currency (fixed, documented).
USD_PER_UNIT = {
    "usd": Decimal("1"),
    "eur": Decimal("1.08"),
    "gbp": Decimal("1.27"),
    "cad": Decimal("0.73"),
    "aud": Decimal("0.66"),
    "nzd": Decimal("0.60"),
    "chf": Decimal("1.13"),
    "sek": Decimal("0.095"),
    "nok": Decimal("0.092"),
    "dkk": Decimal("0.145"),
    "pln": Decimal("0.25"),
    "czk": Decimal("0.043"),
    "huf": Decimal("0.0028"),
    "brl": Decimal("0.20"),
    "mxn": Decimal("0.058"),
    "jpy": Decimal("0.0067"),
    "krw": Decimal("0.00075"),
    "sgd": Decimal("0.74"),
    "hkd": Decimal("0.128"),
    "inr": Decimal("0.012"),
    "zar": Decimal("0.054"),
    "isk": Decimal("0.0072"),
    "bhd": Decimal("2.65"),
    "jod": Decimal("1.41"),
    "kwd": Decimal("3.25"),
    "omr": Decimal("2.60"),
    "tnd": Decimal("0.32"),
}
# docs.stripe.com/currencies: zero-decimal and three-decimal currencies (ISO minor units).
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

# docs.stripe.com/testing#international-cards: test card numbers by the card's country.
INTERNATIONAL_CARDS = {
    "4000000760000002": "BR",
    "4000001240000000": "CA",
    "4000004840008001": "MX",
    "4000000360000006": "AU",
    "4000002760000016": "DE",
    "4000002500000003": "FR",
    "4000008260000000": "GB",
    "4000003920000003": "JP",
    "4000007020000003": "SG",
}


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


def exchange_rate(source: str, target: str) -> Decimal:
    """Units of `target` per unit of `source` (six decimals, as Stripe shows them)."""
    for cur in (source, target):
        if cur not in USD_PER_UNIT:
            raise StripeError(
                f"The sandbox has no exchange rate for {cur.upper()} (add it to "
                "regentra/sandbox/stripe/resources/fees.py USD_PER_UNIT).",
                type="api_error",
                status=500,
            )
    return (USD_PER_UNIT[source] / USD_PER_UNIT[target]).quantize(Decimal("0.000001"))


def convert(amount: int, source: str, target: str) -> tuple[int, Decimal | None]:
    """`amount` (minor units of `source`) in minor units of `target`, and the rate used
    (None when no conversion is needed)."""
    if source == target:
        return amount, None
    rate = exchange_rate(source, target)
    return convert_at(amount, source, target, rate), rate


def convert_at(amount: int, source: str, target: str, rate: Decimal) -> int:
    """`amount` (minor units of `source`) in minor units of `target` at `rate`."""
    major = Decimal(amount) / (Decimal(10) ** _exponent(source))
    return _round(major * rate * (Decimal(10) ** _exponent(target)))


def settle(
    account: Account,
    *,
    amount: int,
    currency: str,
    pm_type: str,
    card_country: str | None,
) -> dict[str, Any]:
    """The money fields of a charge's balance transaction: `amount`, `currency`,
    `exchange_rate`, `fee`, `fee_details`, `net`."""
    settlement = account.default_currency
    settled, rate = convert(amount, currency, settlement)
    if pm_type == "us_bank_account":
        fee = min(_round(Decimal(settled) * ACH_PERCENT), ACH_CAP)
    else:
        percent = CARD_PERCENT
        if card_country and card_country != account.country:
            percent += INTERNATIONAL_PERCENT
        if rate is not None:
            percent += CONVERSION_PERCENT
        fee = _round(Decimal(settled) * percent) + CARD_FIXED
    return {
        "amount": settled,
        "currency": settlement,
        "exchange_rate": float(rate) if rate is not None else None,
        "fee": fee,
        "fee_details": [
            {
                "amount": fee,
                "application": None,
                "currency": settlement,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ],
        "net": settled - fee,
    }
