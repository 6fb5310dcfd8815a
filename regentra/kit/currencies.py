"""The currencies Regentra can bill in, as Stripe has them (docs.stripe.com/currencies).

Invoices are paid through Stripe, so a client's currency must be one Stripe can charge in.
Stripe's idea of a currency's decimals is not always ISO's (Babel's): zero-decimal
currencies have none; the three-decimal ones (BHD, JOD, KWD, OMR, TND) have three but the
amount must end in 0; every other currency has two in the API, even where ISO has none
(ISK, and a few more), so those amounts are ours times 100. `regentra.integrations.stripe
.amounts` converts with these facts; the invoices domain rounds line amounts with
`line_step`; `minimum_charge` is Stripe's minimum charge amount.

The sandbox keeps its own copy of these facts (`regentra/sandbox/stripe/currencies.py`):
the product never imports the sandbox.
"""

from __future__ import annotations


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Stripe's presentment currencies (docs.stripe.com/currencies#presentment-currencies).
STRIPE_CURRENCIES = _codes(
    """
    USD AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP
    GBP GEL GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR ISK JMD JOD JPY KES KGS KHR KMF
    KRW KWD KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR
    SEK SGD SHP SLE SOS SRD STD SZL THB TJS TND TOP TRY TTD TWD TZS UAH UGX UYU UZS VND VUV
    WST XAF XCD XCG XOF XPF YER ZAR ZMW
    """
)

# docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = _codes("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF")
# docs.stripe.com/currencies#three-decimal: amounts must end in 0.
THREE_DECIMAL = _codes("BHD JOD KWD OMR TND")

# docs.stripe.com/currencies#minimum-and-maximum-charge-amounts, in each currency's minor
# units (the same in ISO and in Stripe for every currency listed). Stripe lists no fixed
# minimum for the other currencies (it is the equivalent of USD 0.50 in the settlement
# currency, which depends on the day's rate): for them there is none here.
MINIMUM_CHARGE = {
    "USD": 50,
    "AED": 200,
    "AUD": 50,
    "BGN": 100,
    "BRL": 50,
    "CAD": 50,
    "CHF": 50,
    "CZK": 1500,
    "DKK": 250,
    "EUR": 50,
    "GBP": 30,
    "HKD": 400,
    "HUF": 17500,
    "INR": 50,
    "JPY": 50,
    "MXN": 1000,
    "MYR": 200,
    "NOK": 300,
    "NZD": 50,
    "PLN": 200,
    "RON": 200,
    "SEK": 300,
    "SGD": 50,
    "THB": 1000,
}


# Stripe's maximum charge, in Stripe's API units, the same for every currency: "The amount
# value supports up to eight digits (e.g., a value of 99999999 for a USD charge of
# $999,999.99)" (docs.stripe.com/api/payment_intents/object#payment_intent_object-amount;
# docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). `kit.money.maximum_charge`
# gives it in our minor units.
STRIPE_MAXIMUM_AMOUNT = 99_999_999


def stripe_supports(code: str) -> bool:
    return code.upper() in STRIPE_CURRENCIES


def stripe_decimals(code: str) -> int:
    """How many decimals Stripe's amounts have in this currency (not always ISO's)."""
    upper = code.upper()
    if upper in ZERO_DECIMAL:
        return 0
    if upper in THREE_DECIMAL:
        return 3
    return 2


def line_step(code: str) -> int:
    """Line amounts (in ISO minor units) are multiples of this: 10 in the three-decimal
    currencies, whose Stripe amounts must end in 0; 1 elsewhere."""
    return 10 if code.upper() in THREE_DECIMAL else 1


def minimum_charge(code: str) -> int | None:
    """Stripe's minimum charge in minor units, or None where Stripe lists no fixed one."""
    return MINIMUM_CHARGE.get(code.upper())
