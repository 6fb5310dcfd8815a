"""How input validation errors read, the same for JSON bodies and HTML forms: a code
(`malformed_json` or `invalid`), one sentence naming each field, and the per-field list."""

from __future__ import annotations

from typing import Any

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
