"""Currencies as Stripe has them (docs.stripe.com/currencies): which exist, their decimals in
the API, the amounts each accepts, and the minimum charge amount.

The sandbox's own copy (the product's is `regentra.kit.currencies`; neither imports the
other, so a mistake in one is caught by tests of the other). Stripe's exact error messages
for these amount rules are not documented; the wording here says what the rule is.
"""

from __future__ import annotations

from decimal import Decimal

from regentra.sandbox.stripe.errors import StripeError


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# docs.stripe.com/currencies#presentment-currencies (lowercase, as the API takes them).
SUPPORTED = _codes(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl
    bsd bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp
    gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf
    krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn
    nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr
    sek sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv
    wst xaf xcd xcg xof xpf yer zar zmw
    """
)
# docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = _codes("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf")
# docs.stripe.com/currencies#three-decimal: "the last digit must be 0".
THREE_DECIMAL = _codes("bhd jod kwd omr tnd")
# docs.stripe.com/currencies#special-cases: ISK is two-decimal in the API for backwards
# compatibility, but fractions can't be charged: amounts must be divisible by 100.
WHOLE_UNITS_ONLY = _codes("isk")

# docs.stripe.com/currencies#minimum-and-maximum-charge-amounts, in API units. Stripe lists
# no fixed minimum for other currencies (the equivalent of USD 0.50 in the settlement
# currency at the day's rate); for them the sandbox applies none.
MINIMUM_CHARGE = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}


def check_currency(value: str, param: str = "currency") -> str:
    """The lowercase code of a currency Stripe supports, else Stripe's "Invalid currency"."""
    code = value.lower()
    if code not in SUPPORTED:
        raise StripeError(
            f"Invalid currency: {code}. Stripe currently supports these currencies: "
            + ", ".join(sorted(SUPPORTED)),
            param=param,
        )
    return code


def check_amount(amount: int | Decimal, currency: str, param: str) -> None:
    """An amount Stripe accepts in `currency` (ISK whole krónur, three-decimal ending in 0)."""
    code = currency.lower()
    value = Decimal(amount)
    if code in WHOLE_UNITS_ONLY and value % 100 != 0:
        raise StripeError(
            f"Invalid {param}: {code.upper()} is a two-decimal currency in the API but "
            f"fractions of it can't be charged, so amounts must be divisible by 100 (got "
            f"{amount}).",
            code="parameter_invalid_integer",
            param=param,
        )
    if code in THREE_DECIMAL and value % 10 != 0:
        raise StripeError(
            f"Invalid {param}: {code.upper()} is a three-decimal currency and its amounts "
            f"must end in 0 (got {amount}).",
            code="parameter_invalid_integer",
            param=param,
        )


def decimals(currency: str) -> int:
    """How many decimals the API's amounts have in this currency (ISK: two)."""
    code = currency.lower()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


# The maximum charge, in API units and the same in every currency: "The amount value supports
# up to eight digits (e.g., a value of 99999999 for a USD charge of $999,999.99)" (the
# PaymentIntent's `amount`, docs.stripe.com/api/payment_intents/object).
MAXIMUM_CHARGE = 99_999_999


def minimum_charge(currency: str) -> int | None:
    return MINIMUM_CHARGE.get(currency.lower())
