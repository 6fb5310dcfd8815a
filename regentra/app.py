"""The ASGI application: API, pages, health, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from regentra.api import docs as api_docs
from regentra.api import errors as api_errors
from regentra.api import webhooks as inbound_webhooks
from regentra.api.middleware import BodySizeLimit, Observe, metrics_token_ok
from regentra.api.router import api_router
from regentra.config import get_settings
from regentra.db import dispose_async_engine, get_engine
from regentra.http.validation import refuse_unsafe_text
from regentra.log_setup import configure as configure_logging
from regentra.web import render_error, web_router
from regentra.web.static import mount_static


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    await dispose_async_engine()  # the webhook path's asyncio connections, if it opened any


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(env=settings.env, level=settings.log_level)
    app = FastAPI(
        title="Regentra",
        version="0.1.0",
        description="PSA billing for MSPs. Authenticate with `Authorization: Bearer <token>`.",
        docs_url=None,  # api_docs.install: Swagger UI served from here, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs else None,
        dependencies=[Depends(refuse_unsafe_text)],  # NUL and bidi controls: 422, everywhere
        routes=inbound_webhooks.routes(),  # first: found before any other route is tried
        lifespan=_lifespan,
    )
    api_errors.install(app, render_html=render_error)
    app.include_router(api_router)
    app.include_router(web_router)
    mount_static(app)
    api_docs.install(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        token = get_settings().metrics_token
        if not metrics_token_ok(request.headers.get("authorization"), token):
            raise HTTPException(404)  # unset or wrong token: as if there were no /metrics
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(Observe)
    app.add_middleware(BodySizeLimit)
    return app
