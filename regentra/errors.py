"""The one error type users can cause: a message a person can act on, an HTTP status and a
code. The bases here (NotFound, Conflict, Invalid, ...) carry the status; each domain names
its conditions as subclasses in its own `errors.py` (`invoices.errors.InvoiceNotDraft`), each
carrying its code, and `api/` turns any of them into `{"error": {"code", "message"}}` once."""

from __future__ import annotations

from typing import Any


class RegentraError(Exception):
    """An error with a clear message and a 4xx status (5xx only for vendor outages)."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.details = details or {}


class NotFound(RegentraError):
    status = 404
    code = "not_found"


class Forbidden(RegentraError):
    status = 403
    code = "forbidden"


class Unauthenticated(RegentraError):
    status = 401
    code = "unauthenticated"


class Conflict(RegentraError):
    status = 409
    code = "conflict"


class Invalid(RegentraError):
    status = 422
    code = "invalid"


class TooManyRequests(RegentraError):
    status = 429
    code = "too_many_requests"
