"""Every API error has one shape: {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from regentra.errors import RegentraError
from regentra.http.validation import describe_validation, validation_status
from regentra.log_setup import redact_path

log = structlog.get_logger(__name__)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def json_error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def install(app: FastAPI, *, render_html: Any) -> None:
    """Register handlers. `render_html(request, status, message)` renders page errors."""

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(RegentraError)
    async def _regentra(request: Request, exc: RegentraError) -> Response:
        if wants_json(request):
            return json_error(exc.status, exc.code, exc.message, **exc.details)
        return render_html(request, exc.status, exc.message)  # type: ignore[no-any-return]

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        code, message, fields = describe_validation(exc)
        status = validation_status(code)
        if wants_json(request):
            extra = {"fields": fields} if fields else {}
            return json_error(status, code, message, **extra)
        return render_html(request, status, message)  # type: ignore[no-any-return]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "not found", 405: "method not allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        if wants_json(request):
            code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
                exc.status_code, "http_error"
            )
            return json_error(exc.status_code, code, message)
        return render_html(request, exc.status_code, message)  # type: ignore[no-any-return]

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        log.warning(
            "integrity error", path=redact_path(request.url.path), error=type(exc.orig).__name__
        )
        message = "the change conflicts with existing data; reload and try again"
        if wants_json(request):
            return json_error(409, "conflict", message)
        return render_html(request, 409, message)  # type: ignore[no-any-return]

    @app.exception_handler(OperationalError)
    async def _db_unavailable(request: Request, exc: OperationalError) -> Response:
        log.error(
            "database error", path=redact_path(request.url.path), error=type(exc.orig).__name__
        )
        message = "the database is busy or unavailable; try again shortly"
        if wants_json(request):
            return json_error(503, "unavailable", message)
        return render_html(request, 503, message)  # type: ignore[no-any-return]

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=redact_path(request.url.path))
        message = "something went wrong on our side; it has been logged"
        if wants_json(request):
            return json_error(500, "internal_error", message)
        return render_html(request, 500, message)  # type: ignore[no-any-return]
