"""The error body every `/api/v1` route can answer, for `/openapi.json`.

`errors.json_error` writes `{"error": {"code", "message", ...}}`; this module only describes
it. Each route lists the statuses it can answer with `responses=errors(...)`, built from the
groups below; every route gets the ones all of them share (`ALWAYS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable and machine-readable, e.g. not_found, not_draft")
    message: str = Field(description="What went wrong and what to do, for a person")


class FieldProblem(BaseModel):
    field: str = Field(description="The input field, dotted for nested ones")
    message: str


class ErrorDetail(ErrorInfo):
    """Some errors carry more keys (e.g. `stripe_request_id`)."""

    model_config = ConfigDict(extra="allow")

    fields: list[FieldProblem] | None = Field(
        default=None, description="Validation errors only: each invalid field and why"
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


Group = Mapping[int, str]

ALWAYS: Group = {
    401: "No valid access token: missing, invalid or revoked (`unauthenticated`).",
    503: "The database is busy or unavailable; try again shortly (`unavailable`).",
}
ROLE: Group = {403: "Your role may not do this (`forbidden`)."}
FOUND: Group = {404: "No such object in your organization (`not_found`)."}
PARAMS: Group = {422: "A path or query parameter is invalid (`invalid`, with `fields`)."}
BODY: Group = {
    400: "The body is not valid JSON (`malformed_json`).",
    413: "The body is over 1 MiB (`payload_too_large`).",
    422: "The body is invalid: `invalid` with `fields`, or a code naming the problem.",
}
CONFLICT: Group = {
    409: "The change conflicts with existing data or with the object's current state."
}
NOT_CONNECTED: Group = {409: "Stripe is not connected (`stripe_not_connected`)."}
STRIPE: Group = {
    400: "Stripe refused the request (`stripe_invalid_request`).",
    409: "Stripe refused a repeated request (`stripe_conflict`).",
    422: "Stripe refused the key or its permissions (`stripe_key_rejected`, `stripe_permission`).",
    502: "Stripe could not be reached or failed (`stripe_unreachable`, `stripe_error`).",
    503: "Stripe is rate limiting this account (`stripe_rate_limited`).",
}


def errors(*groups: Group) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error body under each status of `ALWAYS` and `groups`,
    described by every group that names the status."""
    why: dict[int, list[str]] = {}
    for group in (ALWAYS, *groups):
        for status, text in group.items():
            if text not in why.setdefault(status, []):
                why[status].append(text)
    return {
        status: {"model": ErrorBody, "description": " ".join(why[status])} for status in sorted(why)
    }
