"""Reading plain HTML forms: typed fields, durations, amounts, and readable errors."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData

from regentra.errors import Invalid, RegentraError
from regentra.http.validation import describe_validation, validation_status
from regentra.kit.money import parse_major
from regentra.models.time_entry import MAX_MINUTES


async def _form(request: Request) -> FormData:
    return await request.form()  # the CSRF guard already parsed it: this is the cached copy


FormDep = Annotated[FormData, Depends(_form)]


def text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def checkbox(form: FormData, name: str) -> bool:
    return text(form, name).lower() in ("on", "true", "1", "yes")


def texts(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


_HOURS_MINUTES = re.compile(r"^(\d{1,3}):([0-5]\d)$")
_HOURS_DECIMAL = re.compile(r"^(\d{1,3}(?:\.\d+)?|\.\d+)h(?:ours?|rs?)?$")
_H_AND_M = re.compile(r"^(?:(\d{1,3})h)?(?:(\d{1,4})m(?:in)?)?$")
DURATION_HELP = "enter minutes (90), hours and minutes (1:30) or hours (1.5h)"


def parse_duration(raw: str) -> int:
    """A typed duration in whole minutes: "90", "1:30", "1.5h", "1h 30m", "45m"."""
    value = raw.strip().lower().replace(" ", "")
    minutes: Decimal | None = None
    if not value:
        raise Invalid(f"Duration is required: {DURATION_HELP}.")
    if value.isdigit():
        minutes = Decimal(value)
    elif match := _HOURS_MINUTES.match(value):
        minutes = Decimal(int(match[1]) * 60 + int(match[2]))
    elif match := _HOURS_DECIMAL.match(value):
        try:
            minutes = Decimal(match[1]) * 60
        except InvalidOperation:
            minutes = None
    elif (match := _H_AND_M.match(value)) and (match[1] or match[2]):
        minutes = Decimal(int(match[1] or 0) * 60 + int(match[2] or 0))
    shown = raw.strip()[:40]
    if minutes is None:
        raise Invalid(f"Duration '{shown}' is not understood: {DURATION_HELP}.")
    if minutes != minutes.to_integral_value():
        raise Invalid(f"Duration '{shown}' is not a whole number of minutes.")
    if not 1 <= minutes <= MAX_MINUTES:
        raise Invalid(
            f"Duration must be between 1 minute and 24 hours ({MAX_MINUTES} minutes); "
            f"'{shown}' is {int(minutes)} minutes."
        )
    return int(minutes)


def parse_amount(raw: str, currency: str, label: str) -> int | None:
    """An amount typed in major units ("150.00") as minor units; blank means not set."""
    if not raw.strip():
        return None
    try:
        amount = parse_major(raw, currency)
    except ValueError as exc:
        raise Invalid(f"{label}: {exc}.") from exc
    if amount < 0:
        raise Invalid(f"{label} must not be negative.")
    return amount


def parse_date(raw: str, label: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise Invalid(f"{label} must be a date like 2024-05-31.") from exc


def optional_date(raw: str | None, label: str) -> date | None:
    return parse_date(raw, label) if raw and raw.strip() else None


def parse_id(raw: str | None, label: str) -> uuid.UUID:
    try:
        return uuid.UUID((raw or "").strip())
    except ValueError as exc:
        raise Invalid(f"Choose a {label}.") from exc


def optional_id(raw: str | None, label: str) -> uuid.UUID | None:
    return parse_id(raw, label) if raw and raw.strip() else None


def failure(exc: RegentraError | ValidationError) -> tuple[str, int]:
    """The message to show next to the form, and the status to answer with."""
    if isinstance(exc, ValidationError):
        code, message, _ = describe_validation(RequestValidationError(exc.errors()))
        return message, validation_status(code)
    return exc.message, exc.status
