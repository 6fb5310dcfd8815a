"""Unit checks of the page helpers: durations, redirects, cookies and signed flash."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import Response
from starlette.requests import Request

from regentra.errors import Invalid
from regentra.web import auth, security
from regentra.web.forms import parse_amount, parse_duration
from regentra.web.templating import format_duration


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [
        ("90", 90),
        (" 1:30 ", 90),
        ("0:05", 5),
        ("1.5h", 90),
        ("1.5 h", 90),
        ("2hours", 120),
        (".25h", 15),
        ("1h 30m", 90),
        ("1h30m", 90),
        ("45m", 45),
        ("45min", 45),
        ("3h", 180),
        ("24:00", 1440),
        ("1440", 1440),
        ("1", 1),
    ],
)
def test_durations_people_type(typed: str, minutes: int) -> None:
    assert parse_duration(typed) == minutes


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1441", "between 1 minute and 24 hours"),
        ("24:01", "between 1 minute and 24 hours"),
        ("0", "between 1 minute and 24 hours"),
        ("0:00", "between 1 minute and 24 hours"),
        ("25h", "between 1 minute and 24 hours"),
        ("abc", "not understood"),
        ("-5", "not understood"),
        ("1:75", "not understood"),
        ("1,5h", "not understood"),
        ("1e3", "not understood"),
        ("h", "not understood"),
        ("", "required"),
        ("0.01h", "whole number of minutes"),
    ],
)
def test_durations_refused_with_a_clear_message(typed: str, message: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_duration(typed)
    assert message in info.value.message
    assert info.value.status == 422


def test_format_duration() -> None:
    assert [format_duration(m) for m in (5, 60, 90, 1440, 2250)] == [
        "0:05",
        "1:00",
        "1:30",
        "24:00",
        "37:30",
    ]
    for minutes in (1, 45, 75, 1440):  # what is shown reads back as what was entered
        assert parse_duration(format_duration(minutes)) == minutes


def test_amounts() -> None:
    assert parse_amount("150.00", "USD", "Hourly rate") == 15000
    assert parse_amount("1,250", "USD", "Hourly rate") == 125000
    assert parse_amount("5000", "JPY", "Hourly rate") == 5000
    assert parse_amount("  ", "USD", "Hourly rate") is None
    for bad in ("abc", "1.234", "-1", "NaN"):
        with pytest.raises(Invalid):
            parse_amount(bad, "USD", "Hourly rate")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/time?status=draft", "/time?status=draft"),
        ("/", "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("evil", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
    ],
)
def test_safe_next(target: str, expected: str) -> None:
    assert auth.safe_next(target) == expected


def _request(cookies: dict[str, str]) -> Request:
    header = "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"cookie", header)]})


def test_flash_is_signed() -> None:
    response = Response()
    security.set_flash(response, security.Flash("success", "Saved <b>it</b>."))
    cookie = response.headers["set-cookie"]
    value = cookie.split(";")[0].split("=", 1)[1].strip('"')
    assert "Max-Age=60" in cookie and "HttpOnly" in cookie
    got = security.read_flash(_request({security.FLASH_COOKIE: value}))
    assert got == security.Flash("success", "Saved <b>it</b>.")
    payload, _, signature = value.rpartition(".")
    forged = payload[:-2] + "AA." + signature
    assert security.read_flash(_request({security.FLASH_COOKIE: forged})) is None
    assert security.read_flash(_request({security.FLASH_COOKIE: "junk"})) is None


def test_cookies_are_secure_behind_https(monkeypatch: Any) -> None:
    settings = SimpleNamespace(secure_cookies=True, session_max_age_seconds=3600)
    monkeypatch.setattr(security, "get_settings", lambda: settings)
    monkeypatch.setattr(auth, "get_settings", lambda: settings)
    response = Response()
    auth.set_session_cookie(response, "raw-token")
    cookie = response.headers["set-cookie"]
    for part in ("HttpOnly", "Secure", "Path=/", "Max-Age=3600"):
        assert part in cookie
    assert "samesite=lax" in cookie.lower()
