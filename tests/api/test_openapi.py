"""`/openapi.json` documents every `/api/v1` body a client can receive: each operation's
success body as a named model (or an explicit 204 without a body), and the error body
`{"error": {"code", "message", ...}}` under every error status it lists, including the ones
every route, every body and every parameter can meet. Read in-process, no server."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, FastAPI

from regentra.api.responses import errors
from regentra.app import create_app

Spec = dict[str, Any]

METHODS = {"get", "put", "post", "patch", "delete"}
ERROR_BODY = "#/components/schemas/ErrorBody"
COMPONENTS = "#/components/schemas/"


def _operations(spec: Spec) -> list[tuple[str, Spec]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/") or path == "/api/v1"
        for method, operation in item.items()
        if method in METHODS
    ]


def _json_schema(response: Spec) -> Spec | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return schema if isinstance(schema, dict) else None


def _component(spec: Spec, schema: Spec | None) -> Spec | None:
    """The named model a `$ref` points to, if it is an object with declared properties (a
    bare `dict[str, Any]` or an unannotated route documents no body)."""
    ref = (schema or {}).get("$ref", "")
    if not ref.startswith(COMPONENTS):
        return None
    found: Spec | None = spec["components"]["schemas"].get(ref.removeprefix(COMPONENTS))
    return found if found and found.get("properties") else None


def success_problems(spec: Spec) -> list[str]:
    problems = []
    for name, operation in _operations(spec):
        ok = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        if not ok:
            problems.append(f"{name}: no 2xx response")
        for status, response in ok.items():
            if status == "204":
                if "content" in response:
                    problems.append(f"{name}: 204 documents a body")
            elif _component(spec, _json_schema(response)) is None:
                problems.append(f"{name}: {status} has no response model")
    return problems


def error_problems(spec: Spec) -> list[str]:
    problems = []
    for name, operation in _operations(spec):
        responses = operation["responses"]
        needed = {"401"}  # every /api/v1 route needs a token
        if operation.get("requestBody"):
            needed |= {"400", "413", "422"}  # malformed JSON, over 1 MiB, invalid
        if operation.get("parameters"):
            needed.add("422")
        for status in sorted(needed - set(responses)):
            problems.append(f"{name}: {status} not documented")
        for status, response in responses.items():
            if status[0] in "45" and (_json_schema(response) or {}).get("$ref") != ERROR_BODY:
                problems.append(f"{name}: {status} is not the error body")
    return problems


def test_the_api_has_operations() -> None:
    assert len(_operations(create_app().openapi())) >= 30


def test_every_operation_documents_its_success_body() -> None:
    assert success_problems(create_app().openapi()) == []


def test_every_operation_documents_its_error_bodies() -> None:
    assert error_problems(create_app().openapi()) == []


def test_the_error_body_is_the_one_the_api_writes() -> None:
    schemas = create_app().openapi()["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error"]
    detail = schemas["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message"}
    assert "fields" in detail["properties"]
    assert detail["additionalProperties"] is True  # e.g. stripe_request_id


def test_the_checks_catch_undocumented_routes() -> None:
    """A route without response model, one with FastAPI's default 422 body, and one that
    forgets the common errors are each reported."""
    router = APIRouter(prefix="/api/v1")

    @router.get("/untyped", responses=errors())
    def untyped() -> dict[str, Any]:
        return {}

    @router.get("/bare/{thing_id}")
    def bare(thing_id: uuid.UUID) -> Any:
        return {}

    app = FastAPI()
    app.include_router(router)
    spec = app.openapi()
    assert success_problems(spec) == [
        "GET /api/v1/untyped: 200 has no response model",
        "GET /api/v1/bare/{thing_id}: 200 has no response model",
    ]
    assert error_problems(spec) == [
        "GET /api/v1/bare/{thing_id}: 401 not documented",
        "GET /api/v1/bare/{thing_id}: 422 is not the error body",
    ]
