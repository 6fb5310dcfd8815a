"""Stripe's error shape: {"error": {"type", "code", "message", "param"}}."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param
    )


def unknown_parameter(path: str) -> StripeError:
    return StripeError(f"Received unknown parameter: {path}", code="parameter_unknown", param=path)


def missing_parameter(path: str) -> StripeError:
    return StripeError(f"Missing required param: {path}.", code="parameter_missing", param=path)


def invalid_value(path: str, message: str) -> StripeError:
    return StripeError(message, code="parameter_invalid_string", param=path)
