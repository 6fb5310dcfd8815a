"""The control API (`/_sandbox/…`, JSON): not Intuit's. What the developer portal and
Intuit's internals would do: register client apps, create companies, list what was posted,
read the request log, reset, advance the clock, set limits and inject faults. The sandbox
binds loopback only, so the control API takes no credentials."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from regentra.sandbox.quickbooks.state import Sandbox

FAULTS = {
    "rate_500": (0.0, 1.0),
    "rate_503": (0.0, 1.0),
    "latency_ms": (0.0, 60_000.0),
    # The answer is held back after the request was carried out: a client that dies or
    # times out meanwhile never learns that its object was made.
    "reply_latency_ms": (0.0, 60_000.0),
    # The token endpoint (code exchange and refresh) answers this much later.
    "oauth_latency_ms": (0.0, 60_000.0),
}
LIMITS = ("per_minute", "per_second", "concurrent")


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def routes(sandbox: Sandbox) -> list[Route]:
    def _company_json(realm: str) -> dict[str, Any]:
        c = sandbox.companies[realm]
        return {
            "realm_id": c.realm_id,
            "name": c.name,
            "home_currency": c.home_currency,
            "multicurrency": c.multicurrency,
        }

    async def companies(request: Request) -> Response:
        if request.method == "GET":
            with sandbox.lock:
                return JSONResponse({"data": [_company_json(r) for r in sandbox.companies]})
        data = await _json(request)
        name, currency = data.get("name"), str(data.get("home_currency", "USD")).upper()
        if not name or len(currency) != 3:
            return _bad("name and a three-letter home_currency are required")
        with sandbox.lock:
            company = sandbox.add_company(
                str(name), currency, multicurrency=bool(data.get("multicurrency", False)),
                country=str(data.get("country", "US")),
            )  # fmt: skip
            sandbox.save()
            return JSONResponse(_company_json(company.realm_id), status_code=201)

    def objects(request: Request) -> Response:
        realm = request.path_params["realm"]
        with sandbox.lock:
            company = sandbox.company(realm)
            if company is None:
                return _bad("no such company", 404)
            return JSONResponse({k: list(v.values()) for k, v in company.objects.items()})

    def requests_log(request: Request) -> Response:
        with sandbox.lock:
            company = sandbox.company(request.path_params["realm"])
            if company is None:
                return _bad("no such company", 404)
            return JSONResponse({"data": list(company.requests)})

    def reset(_request: Request) -> Response:
        sandbox.reset()
        sandbox.save()
        return JSONResponse({"reset": True})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            try:
                seconds = float(data.get("seconds", 0))
            except (TypeError, ValueError):
                return _bad("seconds must be a number")
            if seconds < 0:
                return _bad("the clock only moves forward")
            with sandbox.lock:
                sandbox.clock_offset += seconds
                sandbox.save()
        return JSONResponse({"now": sandbox.now(), "offset": sandbox.clock_offset})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            for key, value in data.items():
                if key not in FAULTS:
                    return _bad(f"unknown fault {key!r}")
                low, high = FAULTS[key]
                if not isinstance(value, int | float) or not low <= value <= high:
                    return _bad(f"{key} must be between {low:g} and {high:g}")
            sandbox.faults = {k: float(v) for k, v in data.items() if v}
        return JSONResponse(sandbox.faults)

    async def limits(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            for key, value in data.items():
                if key not in LIMITS or not isinstance(value, int) or value < 0:
                    return _bad(f"{key}: one of {LIMITS}, a whole number ≥ 0")
            sandbox.limits.update(data)
        return JSONResponse(sandbox.limits)

    async def apps(request: Request) -> Response:
        if request.method == "GET":
            with sandbox.lock:
                return JSONResponse(
                    {
                        "data": [
                            {"client_id": k, "redirect_uris": v["redirect_uris"]}
                            for k, v in sandbox.apps.items()
                        ]
                    }
                )
        data = await _json(request)
        uris = data.get("redirect_uris")
        if not data.get("client_id") or not data.get("client_secret") or not isinstance(uris, list):
            return _bad("client_id, client_secret and redirect_uris (a list) are required")
        with sandbox.lock:
            sandbox.apps[str(data["client_id"])] = {
                "client_secret": str(data["client_secret"]),
                "redirect_uris": [str(u) for u in uris],
            }
            sandbox.save()
        return JSONResponse({"client_id": data["client_id"]}, status_code=201)

    both = ["GET", "POST"]
    return [
        Route("/_sandbox/companies", companies, methods=both),
        Route("/_sandbox/companies/{realm}/objects", objects),
        Route("/_sandbox/companies/{realm}/requests", requests_log),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/clock", clock, methods=both),
        Route("/_sandbox/clock/advance", clock, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=both),
        Route("/_sandbox/limits", limits, methods=both),
        Route("/_sandbox/apps", apps, methods=both),
    ]
