"""How input validation errors read, the same for JSON bodies and HTML forms: a code
(`malformed_json` or `invalid`), one sentence naming each field, and the per-field list; and
the one check of all text input for characters no field may hold (`refuse_unsafe_text`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def describe_validation(exc: RequestValidationError) -> tuple[str, str, list[dict[str, str]]]:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return "malformed_json", "the request body is not valid JSON", []
    fields = []
    for e in errors:
        msg = str(e.get("msg", "invalid value"))
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif e.get("type") == "missing":
            msg = "field required"
        fields.append({"field": _loc(e.get("loc", ())), "message": msg})
    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid input"
    return "invalid", message, fields


def validation_status(code: str) -> int:
    """The HTTP status for a code from `describe_validation`."""
    return 400 if code == "malformed_json" else 422


# ---- text no input may carry -------------------------------------------------------------------

# NUL (PostgreSQL cannot store it in text) and the bidirectional embedding, override and
# isolate controls (they make text read differently from what it is, e.g. in a file name or an
# invoice line).
_UNSAFE = re.compile("[\x00\u202a-\u202e\u2066-\u2069]")
UNSAFE_TEXT = (
    "contains a NUL byte or a bidirectional control character (U+202A to U+202E, U+2066 to "
    "U+2069): remove it"
)
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _unsafe_in(value: Any, loc: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """The location of each string in a parsed JSON value (keys too) that is not safe text;
    iterative, so no depth can exhaust the stack."""
    stack = [(value, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _UNSAFE.search(item):
                yield where
        elif isinstance(item, dict):
            for key, sub in item.items():
                if _UNSAFE.search(key):
                    yield (*where, key)
                stack.append((sub, (*where, key)))
        elif isinstance(item, list):
            stack.extend((sub, (*where, i)) for i, sub in enumerate(item))


async def refuse_unsafe_text(request: Request) -> None:
    """A dependency of every route (API and pages): any path parameter, query parameter, JSON
    string or form field with a NUL or a bidi control → 422, before anything reads it."""
    bad: list[tuple[Any, ...]] = [
        ("path", name) for name, v in request.path_params.items() if _UNSAFE.search(str(v))
    ]
    bad += [("query", name) for name, v in request.query_params.multi_items() if _UNSAFE.search(v)]
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype.startswith(_FORMS):
        form = await request.form()
        bad += [
            ("body", name)
            for name, v in form.multi_items()
            if isinstance(v, str) and (_UNSAFE.search(v) or _UNSAFE.search(name))
        ]
    elif ctype == "application/json" or ctype.endswith("+json"):
        body = await request.body()
        try:
            parsed = json.loads(body) if body else None
        except (ValueError, RecursionError):
            parsed = None  # the route's own parsing answers for it
        bad += list(_unsafe_in(parsed, ("body",)))
    if bad:
        raise RequestValidationError(
            [{"type": "value_error", "loc": loc, "msg": UNSAFE_TEXT, "input": None} for loc in bad]
        )
