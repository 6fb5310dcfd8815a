"""Inbound vendor webhooks under /api/webhooks (no bearer token: the URL's secret token and
the vendor's signature authenticate them). Not part of the /api/v1 surface.

Plain Starlette routes, given to the app first (`FastAPI(routes=routes())`, see
`app.create_app`): a delivery is matched before the hundreds of /api/v1 and page routes are
tried, and runs without FastAPI's dependency resolution (the app-wide dependency checks text
input, and a webhook's body is the vendor's signed bytes, stored as sent). The app's
exception handlers and middleware (body size limit, metrics, security headers) still apply.

On PostgreSQL a delivery is received on the event loop itself: `receive`'s blocking-style
code runs in SQLAlchemy's greenlet bridge (`AsyncSession.run_sync`) on psycopg's asyncio
connections (`db.async_engine`), so each statement awaits the database and the loop serves
other requests meanwhile. Handing each delivery to a worker thread instead cost about as much
CPU again as the work itself (a thread hand-off, and a wait for the interpreter's lock after
every one of its round trips): `bench/webhooks.py`. On SQLite, and in tests whose sessions
share one connection, deliveries are received in worker threads. Either way at most
`RECEIVERS` at once per process: one on SQLite, whose writes take turns on one lock anyway,
a few on PostgreSQL. Requests beyond that wait their turn in the event loop.
"""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

from anyio import CapacityLimiter, to_thread
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from regentra.db import async_engine, get_engine
from regentra.integrations.platform import webhooks as platform_webhooks
from regentra.integrations.stripe import webhooks as stripe_webhooks

STRIPE_PATH = "/api/webhooks/stripe/{token}"
PLATFORM_STRIPE_PATH = "/api/webhooks/platform/stripe"  # the platform account's own
RECEIVERS = {"sqlite": 1, "postgresql": 8}
# One limiter per event loop (a limiter belongs to the loop it was made in; tests start many).
_limiters: WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = WeakKeyDictionary()


def _limiter() -> CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = CapacityLimiter(RECEIVERS[get_engine().dialect.name])
    return limiter


def _receive_stripe(token: str, payload: bytes, signature: str | None) -> stripe_webhooks.Outcome:
    return stripe_webhooks.receive(token=token, payload=payload, signature=signature)


def _receive_stripe_bridged(
    _bridge: Session, engine: Engine, token: str, payload: bytes, signature: str | None
) -> stripe_webhooks.Outcome:
    """In the greenlet bridge: `receive` on the asyncio engine's sync face (the bridge's own
    session is only the way in; `receive` opens its sessions on `engine`)."""
    return stripe_webhooks.receive(token=token, payload=payload, signature=signature, bind=engine)


async def stripe_webhook(request: Request) -> JSONResponse:
    payload = await request.body()  # the raw bytes: the signature covers them exactly
    token = request.path_params["token"]
    signature = request.headers.get("stripe-signature")
    engine = async_engine()
    if engine is None:
        outcome = await to_thread.run_sync(
            _receive_stripe, token, payload, signature, limiter=_limiter()
        )
    else:
        async with _limiter(), AsyncSession(engine) as bridge:
            outcome = await bridge.run_sync(
                _receive_stripe_bridged, engine.sync_engine, token, payload, signature
            )
    return JSONResponse(outcome.body, status_code=outcome.status)


def _receive_platform(payload: bytes, signature: str | None) -> platform_webhooks.Outcome:
    return platform_webhooks.receive(payload=payload, signature=signature)


async def platform_stripe_webhook(request: Request) -> JSONResponse:
    """The platform account's events (each org's Regentra subscription): few, so received
    on a worker thread whatever the database."""
    payload = await request.body()
    outcome = await to_thread.run_sync(
        _receive_platform, payload, request.headers.get("stripe-signature")
    )
    return JSONResponse(outcome.body, status_code=outcome.status)


class _Route(Route):
    """A Starlette route that names itself in the scope, as FastAPI's routes do, so the
    metrics label it by its template (`api.middleware.route_label`)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def routes() -> list[BaseRoute]:
    return [
        _Route(STRIPE_PATH, stripe_webhook, methods=["POST"], include_in_schema=False),
        _Route(
            PLATFORM_STRIPE_PATH, platform_stripe_webhook, methods=["POST"], include_in_schema=False
        ),
    ]
