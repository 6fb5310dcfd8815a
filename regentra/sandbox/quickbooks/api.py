"""The v3 accounting API under /v3/company/{realmId}/: bearer auth, minorversion, requestid
replay, per-realm throttling, injected faults, the request log, then the entity handlers."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import threading
import time
from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from regentra.sandbox.quickbooks import entities, ledger, query, rates
from regentra.sandbox.quickbooks.errors import QboFault, invalid
from regentra.sandbox.quickbooks.oauth import ACCOUNTING, bearer_grant
from regentra.sandbox.quickbooks.state import MINOR_VERSION, Company, Sandbox

MAX_REQUESTID = 50
WWW_AUTHENTICATE = 'Bearer realm="Intuit", error="invalid_token"'


def auth_fault() -> QboFault:
    return QboFault(
        "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        "Token expired, revoked or invalid",
        "3200",
        status=401,
        type="AuthenticationFault",
        headers={"WWW-Authenticate": WWW_AUTHENTICATE},
    )


def throttled(retry_after: int) -> QboFault:
    return QboFault(
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached. Wait before retrying.",
        "3001",
        status=429,
        type="ThrottleExceeded",
        headers={"Retry-After": str(retry_after)},
    )


def minor_version(raw: str | None) -> int:
    """What Intuit serves: 75 for a missing, unparsable or older minor version."""
    try:
        asked = int(raw) if raw is not None else 0
    except ValueError:
        asked = 0
    return max(asked, MINOR_VERSION)


class Limiter:
    """Intuit's per-realm limits: requests per minute, per second, and in flight at once."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._inflight: dict[str, int] = {}

    def enter(self, realm: str) -> None:
        limits = self.sandbox.limits
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(realm, deque())
            while window and now - window[0] >= 60:
                window.popleft()
            per_minute, per_second, concurrent = (
                limits["per_minute"], limits["per_second"], limits["concurrent"]
            )  # fmt: skip
            if per_minute > 0:
                if len(window) >= per_minute:
                    raise throttled(int(60 - (now - window[0])) + 1)
                last_second = sum(1 for t in window if now - t < 1)
                if per_second > 0 and last_second >= per_second:
                    raise throttled(1)
                if concurrent > 0 and self._inflight.get(realm, 0) >= concurrent:
                    raise throttled(1)
                window.append(now)
            self._inflight[realm] = self._inflight.get(realm, 0) + 1

    def leave(self, realm: str) -> None:
        with self._lock:
            self._inflight[realm] = self._inflight.get(realm, 1) - 1


class Api:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.limiter = Limiter(sandbox)

    async def handle(self, request: Request) -> Response:
        sandbox = self.sandbox
        realm = request.path_params["realm"]
        rest = request.path_params["rest"].strip("/")
        params = request.query_params
        served = minor_version(params.get("minorversion"))
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "minorversion_requested": params.get("minorversion"),
            "minorversion": served,
            "requestid": params.get("requestid"),
            "status": 500,
        }
        entered = False
        company = sandbox.company(realm)
        try:
            with sandbox.lock:
                grant = bearer_grant(sandbox, request)
            if grant is None:
                raise auth_fault()
            if grant["realm_id"] != realm or ACCOUNTING not in grant["scope"].split():
                raise QboFault(
                    "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                    "This token does not grant access to this company",
                    "3100",
                    status=403,
                    type="AuthorizationFault",
                )
            if company is None:
                raise QboFault(
                    "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                    f"Unknown company {realm}",
                    "3100",
                    status=403,
                    type="AuthorizationFault",
                )
            self.limiter.enter(realm)
            entered = True
            await self._faults()
            body = await request.body()
            status, payload = self._dispatch(company, request.method, rest, params, body)
            if self.sandbox.faults.get("reply_latency_ms"):
                await asyncio.sleep(self.sandbox.faults["reply_latency_ms"] / 1000)
        except QboFault as fault:
            status, payload = fault.status, fault.body(sandbox.stamp())
            entry["status"] = status
            if company is not None:
                with sandbox.lock:
                    sandbox.log(company, entry)
            return JSONResponse(payload, status_code=status, headers=fault.headers)
        finally:
            if entered:
                self.limiter.leave(realm)
        entry["status"] = status
        with sandbox.lock:
            sandbox.log(company, entry)
        return JSONResponse(payload, status_code=status)

    async def _faults(self) -> None:
        faults = self.sandbox.faults
        if faults.get("latency_ms"):
            await asyncio.sleep(faults["latency_ms"] / 1000)
        for status in (500, 503):
            rate = faults.get(f"rate_{status}", 0)
            if rate and random.random() < rate:  # noqa: S311
                raise QboFault(
                    "An application error has occurred while processing your request",
                    f"System Failure Error: injected fault (HTTP {status})",
                    "10000",
                    status=status,
                    type="SystemFault",
                )

    def _dispatch(
        self, company: Company, method: str, rest: str, params: Any, raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        sandbox = self.sandbox
        requestid = params.get("requestid")
        if requestid is not None and not 0 < len(requestid) <= MAX_REQUESTID:
            raise invalid(f"requestid must be 1 to {MAX_REQUESTID} characters", "requestid")
        with sandbox.lock:
            if requestid is not None and requestid in company.requestids:
                saved = company.requestids[requestid]
                return saved["status"], copy.deepcopy(saved["body"])
            try:
                result = self._route(company, method, rest, params, raw)
                status, body = 200, {**result, "time": sandbox.stamp()}
            except QboFault as fault:
                if fault.status >= 500:
                    raise
                status, body = fault.status, fault.body(sandbox.stamp())
            if requestid is not None:
                # A copy: the stored object changes with later updates; the replay does not.
                company.requestids[requestid] = {"status": status, "body": copy.deepcopy(body)}
            if method == "POST":
                ledger.refresh(company)  # the accounts' CurrentBalance after the change
                sandbox.save()
            return status, body

    def _route(
        self, company: Company, method: str, rest: str, params: Any, raw: bytes
    ) -> dict[str, Any]:
        sandbox = self.sandbox
        parts = rest.split("/")
        if parts[0] == "query":
            try:
                text = params.get("query") if method == "GET" else raw.decode()
            except UnicodeDecodeError:
                raise query.parse_error("the query is not UTF-8 text") from None
            if not text:
                raise query.parse_error("no query given")
            known = set(entities.SPECS)
            return {"QueryResponse": query.run(text, company.objects, known)}
        if parts[0] == "exchangerate" and method == "GET" and len(parts) == 1:
            return {"ExchangeRate": rates.exchange_rate(sandbox, company, params)}
        entity = entities.BY_PATH.get(parts[0])
        if entity is None or len(parts) > 2:
            raise QboFault("Unsupported Operation", f"Unknown resource {rest!r}", "500", status=400)
        if method == "GET":
            if entity == "Preferences" and len(parts) == 1:
                return {entity: next(iter(company.of(entity).values()))}
            if len(parts) != 2:
                raise QboFault("Unsupported Operation", "GET needs an Id", "500", status=400)
            return {entity: entities.read(company, entity, parts[1])}
        if method != "POST" or len(parts) != 1:
            raise QboFault("Unsupported Operation", f"{method} /{rest}", "500", status=400)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise invalid("Request body is not valid JSON") from None
        if isinstance(body, dict) and entity in body and isinstance(body[entity], dict):
            body = body[entity]
        if not isinstance(body, dict):
            raise invalid("Request body must be a JSON object")
        operation = params.get("operation")
        if operation == "delete":
            return {entity: entities.delete(sandbox, company, entity, body)}
        if operation == "void":
            return {entity: entities.void(sandbox, company, entity, body)}
        if operation is not None:
            raise invalid(f"Unknown operation {operation!r}", "operation")
        if body.get("Id") not in (None, ""):
            return {entity: entities.update(sandbox, company, entity, body)}
        return {entity: entities.create(sandbox, company, entity, body)}
