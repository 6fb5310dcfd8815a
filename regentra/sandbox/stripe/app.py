"""The sandbox's ASGI app: Stripe's wire format, auth by key, idempotency, rate limits,
faults, expansion, and the request log. Resource handlers live in `resources/`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import random
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from regentra.sandbox.stripe import contract, forms, permissions
from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.limits import REASON_HEADER, RateLimiter, rate_limited
from regentra.sandbox.stripe.routing import Ctx, Route, Router
from regentra.sandbox.stripe.state import API_VERSION, Sandbox, random_token, served

KEY_PATTERN = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{10,}$")


def _routers() -> list[Router]:
    from regentra.sandbox.stripe.resources import ROUTERS

    return ROUTERS


def _key_from(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            return None
    return None


def _redact(key: str) -> str:
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "***"


def _auth_error(key: str | None) -> StripeError:
    if not key:
        return StripeError(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            status=401,
        )
    if key.startswith("pk_"):
        return StripeError(
            "This API call cannot be made with a publishable API key. Please use a secret "
            "API key. You can find a list of your API keys at "
            "https://dashboard.stripe.com/account/apikeys.",
            status=401,
        )
    return StripeError(f"Invalid API Key provided: {_redact(key)}", status=401)


class Api:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.routes: list[Route] = [r for router in _routers() for r in router.routes]
        self.limiter = RateLimiter(sandbox)

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method == method:
                found = route.pattern.match(path)
                if found:
                    return route, found.groupdict()
        return None

    async def handle(self, request: Request) -> Response:
        request_id = "req_" + random_token(14)
        headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        try:
            return await self._handle(request, headers)
        except StripeError as exc:
            return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    async def _handle(self, request: Request, headers: dict[str, str]) -> Response:
        sandbox = self.sandbox
        path = request.url.path
        method = request.method
        key = _key_from(request)
        if not key or not KEY_PATTERN.match(key):
            raise _auth_error(key)
        if permissions.is_restricted(key) and key not in sandbox.aliases:
            raise _auth_error(key)  # restricted keys exist only once made by a secret key
        matched = self._match(method, path)
        account = sandbox.account(key)
        if matched is None:
            raise StripeError(
                f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                "or we can help at https://support.stripe.com/.",
                status=404,
            )
        route, path_params = matched
        raw = (await request.body()).decode() if method in ("POST", "DELETE") else ""
        idem_key = request.headers.get("idempotency-key") if method == "POST" else None
        status = 500
        try:
            permissions.check(key, account, method, path, control=route.control)
            if not route.control:
                await self._faults()
                reason = self.limiter.check(
                    account.key, livemode=account.livemode, endpoint=f"{method} {route.template}"
                )
                if reason:
                    headers[REASON_HEADER] = reason
                    raise rate_limited()
            params = forms.decode(raw or request.url.query)
            if route.params:
                params = contract.validate(params, route.params)
            if params.get("expand"):
                sandbox.check_expand_depth(params["expand"])
            fingerprint = hashlib.sha256(
                f"{method} {path} {json.dumps(params, sort_keys=True)}".encode()
            ).hexdigest()
            with sandbox.lock:
                if idem_key:
                    saved = account.idempotency.get(idem_key)
                    if saved is not None:
                        if saved["fingerprint"] != fingerprint:
                            raise StripeError(
                                "Keys for idempotent requests can only be used with the same "
                                "parameters they were first used with. Try using a key other "
                                f"than '{idem_key}' if you meant to execute a different request.",
                                type="idempotency_error",
                            )
                        status = saved["status"]
                        return JSONResponse(
                            saved["body"],
                            status_code=saved["status"],
                            headers={**headers, "Idempotent-Replayed": "true"},
                        )
                ctx = Ctx(
                    sandbox,
                    account,
                    params,
                    path_params,
                    str(request.base_url).rstrip("/"),
                    dict(request.headers),
                )
                try:
                    result = route.handler(ctx)
                    status = 200
                    if isinstance(result, Response):
                        return result
                    body = served(result)
                    if params.get("expand") and isinstance(body, dict):
                        body = sandbox.expand(account, body, params["expand"])
                        permissions.check_expanded(key, account, body, params["expand"])
                except StripeError as exc:
                    status, body = exc.status, exc.body()
                if idem_key and status < 500 and status != 429:
                    account.idempotency[idem_key] = {
                        "fingerprint": fingerprint,
                        "status": status,
                        "body": body,
                    }
                if method != "GET":
                    sandbox.save()
            return JSONResponse(body, status_code=status, headers=headers)
        except StripeError as exc:
            status = exc.status
            raise
        finally:
            if not route.control:
                with sandbox.lock:
                    account.requests.append(
                        {
                            "method": method,
                            "path": path,
                            "status": status,
                            "idempotency_key": idem_key,
                            "request_id": headers["Request-Id"],
                            "created": sandbox.now(),
                        }
                    )

    async def _faults(self) -> None:
        faults = self.sandbox.faults
        latency = faults.get("latency_ms", 0)
        if latency:
            await asyncio.sleep(latency / 1000)
        if faults.get("rate_429") and random.random() < faults["rate_429"]:  # noqa: S311
            raise StripeError(
                "Request rate limit exceeded (injected fault).", status=429, code="rate_limit"
            )
        if faults.get("rate_500") and random.random() < faults["rate_500"]:  # noqa: S311
            raise StripeError(
                "An unknown error occurred (injected fault).", status=500, type="api_error"
            )


def create_app(sandbox: Sandbox | None = None) -> Starlette:
    sandbox = sandbox or Sandbox()
    api = Api(sandbox)
    from regentra.sandbox.stripe.resources import page_routes, shutdown, startup

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        startup(sandbox)
        try:
            yield
        finally:
            shutdown(sandbox)

    methods = ["GET", "POST", "DELETE"]
    routes: list[Any] = [*page_routes(sandbox)]
    routes += [
        StarletteRoute("/v1/{rest:path}", api.handle, methods=methods),
        StarletteRoute("/_sandbox/{rest:path}", api.handle, methods=methods),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return app
