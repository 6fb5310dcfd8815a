"""Currencies at the Stripe boundary: the product's table agrees with the sandbox's own copy
(kept apart on purpose), line amounts round to what Stripe accepts, and the one conversion
to and from Stripe's amounts."""

from __future__ import annotations

import pytest

from regentra.errors import Invalid
from regentra.integrations.stripe.amounts import amount_of, from_stripe, to_stripe, unit_to_stripe
from regentra.kit import currencies
from regentra.kit.money import amount_for, check_currency, line_amount
from regentra.sandbox.stripe import currencies as sandbox


def test_the_product_and_the_sandbox_agree_on_stripes_currencies() -> None:
    assert {c.lower() for c in currencies.STRIPE_CURRENCIES} == sandbox.SUPPORTED
    assert {c.lower() for c in currencies.ZERO_DECIMAL} == sandbox.ZERO_DECIMAL
    assert {c.lower() for c in currencies.THREE_DECIMAL} == sandbox.THREE_DECIMAL
    assert {c.lower(): v for c, v in currencies.MINIMUM_CHARGE.items()} == sandbox.MINIMUM_CHARGE


def test_client_currencies_are_those_stripe_supports() -> None:
    assert check_currency("isk") == "ISK"
    assert check_currency("KWD") == "KWD"
    with pytest.raises(Invalid, match="not one Stripe can charge in"):
        check_currency("IRR")  # ISO 4217, not a Stripe currency
    with pytest.raises(Invalid, match="not an ISO 4217 code"):
        check_currency("XXQ")


@pytest.mark.parametrize(
    ("rate", "minutes", "currency", "expected"),
    [
        (12345, 50, "KWD", 10290),  # 10287.5 → 10290 (multiples of 10, half up)
        (12345, 50, "USD", 10288),  # 10287.5 → 10288
        (100, 3, "BHD", 10),  # 5 → 10 (half up)
        (100, 2, "OMR", 0),  # 3.33 → 0
        (15000, 90, "ISK", 22500),
        (15000, 90, None, 22500),
    ],
)
def test_amount_rounds_to_what_stripe_accepts(
    rate: int, minutes: int, currency: str | None, expected: int
) -> None:
    assert amount_for(rate, minutes, currency) == expected


def test_line_amounts_round_like_time() -> None:
    assert line_amount(1005, 3, "KWD") == 3020
    assert line_amount(1005, 3, "USD") == 3015
    with pytest.raises(ValueError):
        line_amount(-1, 1, "USD")


@pytest.mark.parametrize(
    ("ours", "currency", "theirs"),
    [
        (22500, "ISK", 2250000),  # ISO: no decimals; Stripe: two
        (1500, "JPY", 1500),
        (15050, "USD", 15050),
        (10290, "KWD", 10290),
        (700, "RSD", 70000),
    ],
)
def test_one_conversion_each_way(ours: int, currency: str, theirs: int) -> None:
    assert to_stripe(ours, currency) == theirs
    assert to_stripe(ours, currency.lower()) == theirs
    assert from_stripe(theirs, currency) == ours


def test_decimal_units_and_payload_amounts() -> None:
    assert unit_to_stripe(1005, "ISK") == "100500"
    assert unit_to_stripe(1005, "USD") == "1005"
    assert from_stripe(2250050, "ISK") == 22501  # a fraction rounds half up
    assert amount_of({"amount_paid": 2250000, "currency": "isk"}, "amount_paid") == 22500
    assert amount_of({"amount_paid": 2250000}, "amount_paid") is None
    assert amount_of({"amount_paid": True, "currency": "usd"}, "amount_paid") is None
