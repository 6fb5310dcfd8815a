"""Intuit's fault envelope: {"Fault": {"Error": [{"Message", "Detail", "code", "element"}],
"type": ...}, "time": ...} (developer.intuit.com …/troubleshooting/handling-common-errors)."""

from __future__ import annotations

from typing import Any


class QboFault(Exception):
    def __init__(
        self,
        message: str,
        detail: str,
        code: str,
        *,
        status: int = 400,
        type: str = "ValidationFault",
        element: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.message = message
        self.detail = detail
        self.code = code
        self.status = status
        self.type = type
        self.element = element
        self.headers = headers or {}

    def body(self, time: str) -> dict[str, Any]:
        error = {
            "Message": self.message,
            "Detail": self.detail,
            "code": self.code,
            "element": self.element,
        }
        return {"Fault": {"Error": [error], "type": self.type}, "time": time}


def not_found(entity: str, object_id: str) -> QboFault:
    return QboFault(
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive or "
        f"deleted. Check the fields with accounts, customers, items, vendors or employees. "
        f"({entity} {object_id})",
        "610",
        element=entity,
    )


def invalid_reference(entity: str, object_id: str, element: str) -> QboFault:
    return QboFault(
        "Invalid Reference Id",
        f"Invalid Reference Id : {entity} element id {object_id} not found",
        "2500",
        element=element,
    )


def required(name: str) -> QboFault:
    return QboFault(
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        "2020",
        element=name,
    )


def business(detail: str, element: str = "") -> QboFault:
    return QboFault(
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        "6000",
        element=element,
    )


def invalid(detail: str, element: str = "") -> QboFault:
    return QboFault("Request has invalid or unsupported property", detail, "2010", element=element)


def stale(entity: str, object_id: str) -> QboFault:
    return QboFault(
        "Stale Object Error",
        f"Stale Object Error : You and another user were working on the same thing. "
        f"{entity} {object_id}: reload it and try again (SyncToken mismatch).",
        "5010",
    )
