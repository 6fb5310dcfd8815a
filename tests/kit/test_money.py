from __future__ import annotations

import pytest

from regentra.kit.money import amount_for, format_money, parse_major


@pytest.mark.parametrize(
    ("rate", "minutes", "expected"),
    [
        (15000, 60, 15000),
        (15000, 90, 22500),
        (10000, 1, 167),  # 166.67 → 167
        (100, 3, 5),  # 5.0 exactly
        (1, 30, 1),  # 0.5 → 1 (half up)
        (1, 29, 0),
        (12345, 1440, 296280),
    ],
)
def test_amount_rounds_half_up(rate: int, minutes: int, expected: int) -> None:
    assert amount_for(rate, minutes) == expected


def test_amount_rejects_negative() -> None:
    with pytest.raises(ValueError):
        amount_for(-1, 10)


def test_format_and_parse() -> None:
    assert format_money(150050, "USD") == "$1,500.50"
    assert format_money(1500, "JPY") == "¥1,500"
    assert parse_major("150.5", "USD") == 15050
    assert parse_major("1,200", "JPY") == 1200
    with pytest.raises(ValueError):
        parse_major("1.234", "USD")
    with pytest.raises(ValueError):
        parse_major("abc", "USD")
