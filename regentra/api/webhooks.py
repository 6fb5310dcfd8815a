"""Inbound vendor webhooks under /api/webhooks (no bearer token: the URL's secret token and
the vendor's signature authenticate them). Not part of the /api/v1 surface."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from regentra.integrations.stripe import webhooks as stripe_webhooks

router = APIRouter(prefix="/api/webhooks", include_in_schema=False)


def _receive_stripe(token: str, payload: bytes, signature: str | None) -> stripe_webhooks.Outcome:
    return stripe_webhooks.receive(token=token, payload=payload, signature=signature)


@router.post("/stripe/{token}")
async def stripe_webhook(token: str, request: Request) -> JSONResponse:
    payload = await request.body()  # the raw bytes: the signature covers them exactly
    outcome = await run_in_threadpool(
        _receive_stripe, token, payload, request.headers.get("stripe-signature")
    )
    return JSONResponse(outcome.body, status_code=outcome.status)
