"""ASGI middleware: body size limit (413 over 1 MiB), metrics and security headers."""

from __future__ import annotations

import hmac
import json
import time

from fastapi import HTTPException
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regentra.config import get_settings

MAX_BODY_BYTES = 1024 * 1024


class _TooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so request parsers re-raise it as it is."""

    def __init__(self, limit: str) -> None:
        super().__init__(413, f"body over {limit}")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    @property
    def limit(self) -> str:
        return f"{self.max_bytes // 1024 // 1024} MiB"

    async def _reject(self, scope: Scope, send: Send) -> None:
        limit = self.limit
        if scope["path"].startswith("/api/"):
            body = json.dumps(
                {"error": {"code": "payload_too_large", "message": f"body over {limit}"}}
            ).encode()
            ctype = b"application/json"
        else:
            body = f"Request too large: the limit is {limit}.".encode()
            ctype = b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(scope, send)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, send)


# Label values come from bounded sets only: a method outside these is "other", the route is
# the matched route's template ("unmatched" when none), never the raw path.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def metrics_token_ok(authorization: str | None, token: str) -> bool:
    """`/metrics` needs `Authorization: Bearer <REGENTRA_METRICS_TOKEN>`; no token set: never."""
    if not token or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    given_bytes = given.strip().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token.encode())


REQUESTS = Counter("regentra_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("regentra_http_request_seconds", "HTTP request latency", ["method", "route"])
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
# Behind an https base URL only: browsers then refuse plain http to this host for a year.
HSTS = (b"strict-transport-security", b"max-age=31536000")


def security_headers() -> list[tuple[bytes, bytes]]:
    return [*SECURITY_HEADERS, HSTS] if get_settings().secure_cookies else SECURITY_HEADERS


class Observe:
    """Prometheus metrics per route, and security headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in security_headers() if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            name = route_label(scope)
            LATENCY.labels(method, name).observe(time.perf_counter() - started)
            REQUESTS.labels(method, name, str(status)).inc()
