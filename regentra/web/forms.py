"""Reading plain HTML forms: typed fields, durations, amounts, and readable errors.

An error shown next to a form names its field as people say it ("Work date cannot be in the
future", not "work_date: ..."), and knows which field it is about: `failure` answers a
`FormMessage` (a str with `.field`, the input's name, and `.label`), which the `form_error`
macro writes as `data-field`/`data-label`; app.js then marks that input `aria-invalid`, links
the message with `aria-describedby` and moves the focus to it.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData

from regentra.errors import Invalid, RegentraError
from regentra.http.validation import describe_validation, validation_status
from regentra.kit.money import parse_major
from regentra.models.time_entry import MAX_MINUTES


class FormMessage(str):
    """An error message for a form, with the field it is about (None: the form as a whole)."""

    field: str | None
    label: str | None

    def __new__(cls, text: str, field: str | None = None, label: str | None = None) -> FormMessage:
        made = super().__new__(cls, text)
        made.field = field
        made.label = label
        return made


class FieldInvalid(Invalid):
    """A typed value that cannot be read, about one input of the form."""

    def __init__(self, message: str, *, field: str, label: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.label = label


# Field names the services and schemas use, as people say them (and as the forms label
# them); `INPUTS`: the form's input name where it differs from the schema's field.
FIELD_WORDS = {
    "work_date": "Work date",
    "minutes": "Duration",
    "hourly_rate": "Hourly rate",
    "default_hourly_rate": "Default hourly rate",
    "default_currency": "Default currency",
    "billing_email": "Billing email",
    "days_until_due": "Payment terms",
    "period_start": "Period start",
    "period_end": "Period end",
    "unit_amount": "Price",
    "client_id": "Client",
    "ticket_id": "Ticket",
    "catalog_item_id": "Catalog item",
    "entry_ids": "Time entries",
    "date_from": "From date",
    "date_to": "To date",
    "received_on": "Date received",
    "display_name": "Name",
}
INPUTS = {"minutes": "duration"}
_LEADING_FIELD = re.compile(r"^([a-z]+(?:_[a-z]+)+)\b")
# A known field's name inside a message ("must not be after period_end").
_KNOWN_FIELD = re.compile(r"\b(?:" + "|".join(sorted(FIELD_WORDS, key=len, reverse=True)) + r")\b")


def say_field(name: str) -> str:
    """ "work_date" → "Work date"; a name we do not know reads as its words."""
    return FIELD_WORDS.get(name, name.replace("_", " ").capitalize())


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text[-1] in ".!?:" else text + "."


def _in_words(message: str) -> tuple[str, str | None]:
    """A service message that starts with a field's name ("work_date cannot be in the
    future") in people's words, and the field."""
    match = _LEADING_FIELD.match(message.strip())
    if not match:
        return sentence(_KNOWN_FIELD.sub(_lower_words, message)), None
    name = match.group(1)
    rest = _KNOWN_FIELD.sub(_lower_words, message.strip()[match.end() :])
    return sentence(say_field(name) + rest), name


def _lower_words(match: re.Match[str]) -> str:
    words = FIELD_WORDS[match.group(0)]
    return words[:1].lower() + words[1:]


def _pydantic_message(error: dict[str, Any]) -> tuple[str, str | None]:
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
    name = loc[0] if loc else None
    words = say_field(name) if name else "A field"
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    msg = str(error.get("msg", "is not valid"))
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return f"{words} is required.", name
    if kind == "string_too_short":
        return f"{words} must be at least {ctx.get('min_length')} characters.", name
    if kind == "string_too_long":
        return f"{words} must be at most {ctx.get('max_length')} characters.", name
    if kind == "greater_than_equal" and ctx.get("ge") == 0:
        return f"{words} must not be negative.", name
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"{words} is out of range ({msg.lower()}).", name
    if kind == "value_error":
        said, named = _in_words(msg.removeprefix("Value error, "))
        if named is None and name is not None and not said.lower().startswith(words.lower()):
            said = f"{words}: {said[:1].lower()}{said[1:]}"
        return sentence(said), named or name
    if kind == "extra_forbidden":
        return f"{words} is not a field of this form.", name
    return sentence(f"{words}: {msg[:1].lower()}{msg[1:]}"), name


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


def parse_duration(
    raw: str, field: str = "duration", *, label: str = "Duration", maximum: int = MAX_MINUTES
) -> int:
    """A typed duration in whole minutes: "90", "1:30", "1.5h", "1h 30m", "45m" (at most
    `maximum` minutes: a day by default)."""
    try:
        return _duration(raw, maximum)
    except Invalid as exc:
        message = label + exc.message.removeprefix("Duration")
        raise FieldInvalid(message, field=field, label=label) from exc


def _duration(raw: str, maximum: int = MAX_MINUTES) -> int:
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
    if not 1 <= minutes <= maximum:
        most = "24 hours" if maximum == MAX_MINUTES else f"{maximum // 60} hours"
        raise Invalid(
            f"Duration must be between 1 minute and {most} ({maximum} minutes); "
            f"'{shown}' is {int(minutes)} minutes."
        )
    return int(minutes)


def _snake(label: str) -> str:
    return label.strip().lower().replace(" ", "_")


def parse_amount(raw: str, currency: str, label: str, field: str | None = None) -> int | None:
    """An amount typed in major units ("150.00") as minor units; blank means not set.
    `field`: the input's name (default: the label in snake case, "Hourly rate" →
    "hourly_rate")."""
    if not raw.strip():
        return None
    where = {"field": field or _snake(label), "label": label}
    try:
        amount = parse_major(raw, currency)
    except ValueError as exc:
        raise FieldInvalid(f"{label}: {exc}.", **where) from exc
    if amount < 0:
        raise FieldInvalid(f"{label} must not be negative.", **where)
    return amount


def parse_date(raw: str, label: str, field: str | None = None) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise FieldInvalid(
            f"{label} must be a date like 2024-05-31.", field=field or _snake(label), label=label
        ) from exc


def optional_date(raw: str | None, label: str, field: str | None = None) -> date | None:
    return parse_date(raw, label, field) if raw and raw.strip() else None


def parse_id(raw: str | None, label: str, field: str | None = None) -> uuid.UUID:
    """A chosen id; `label` as in "Choose a client" (the input: "client_id")."""
    try:
        return uuid.UUID((raw or "").strip())
    except ValueError as exc:
        raise FieldInvalid(
            f"Choose a {label}.", field=field or _snake(label) + "_id", label=label.capitalize()
        ) from exc


def optional_id(raw: str | None, label: str, field: str | None = None) -> uuid.UUID | None:
    return parse_id(raw, label, field) if raw and raw.strip() else None


def failure(exc: RegentraError | ValidationError) -> tuple[str, int]:
    """The message to show next to the form, in people's words and knowing its field (a
    `FormMessage`, typed as the str it is), and the status to answer with."""
    if isinstance(exc, ValidationError):
        errors = list(exc.errors())
        code, fallback, _ = describe_validation(RequestValidationError(errors))
        if code != "invalid" or not errors:
            return FormMessage(fallback), validation_status(code)
        said = [_pydantic_message(dict(e)) for e in errors]
        first = said[0][1]
        text = " ".join(message for message, _ in said)
        return FormMessage(
            text, INPUTS.get(first, first) if first else None, say_field(first) if first else None
        ), validation_status(code)
    if isinstance(exc, FieldInvalid):
        return FormMessage(sentence(exc.message), exc.field, exc.label), exc.status
    message, field = _in_words(exc.message)
    if field is None and isinstance(exc.details.get("field"), str):
        field = exc.details["field"]
    label = say_field(field) if field else None
    return FormMessage(message, INPUTS.get(field, field) if field else None, label), exc.status
