"""The bare-verify floor for `bench/webhooks.py`: the least a webhook endpoint can do.

A minimal FastAPI app with the same route as Regentra's (`POST /api/webhooks/stripe/{token}`)
that reads the body, verifies the `Stripe-Signature` header with the SDK
(`stripe.WebhookSignature.verify_header`, 300 s tolerance), parses the JSON and answers 200
`{"received": true}`; no database, no middleware. Served by ONE uvicorn process with the
uvicorn settings `regentra serve` uses (one worker, proxy headers, log level info, so the
access log is written too).

    python bench/webhook_floor.py --port N   # the signing secret in BENCH_WEBHOOK_SECRET
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import stripe
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sandbox import free_port, spawn_healthy

SECRET_ENV = "BENCH_WEBHOOK_SECRET"  # noqa: S105 (the name of a variable, not a secret)


def create_app(secret: str) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/api/webhooks/stripe/{token}")
    async def receive(token: str, request: Request) -> JSONResponse:
        payload = await request.body()
        header = request.headers.get("stripe-signature") or ""
        try:
            stripe.WebhookSignature.verify_header(
                payload, header, secret, stripe.Webhook.DEFAULT_TOLERANCE
            )
        except stripe.SignatureVerificationError:
            return JSONResponse({"error": "bad signature"}, status_code=400)
        event = json.loads(payload)
        if not isinstance(event, dict):
            return JSONResponse({"error": "not an event"}, status_code=400)
        return JSONResponse({"received": True})

    return app


def start_floor(secret: str, work: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start the floor server; its process, base URL and log file."""
    port = free_port()
    log_path = work / "floor.log"
    url = f"http://127.0.0.1:{port}"
    proc = spawn_healthy(
        [sys.executable, str(Path(__file__)), "--port", str(port)],
        env={**os.environ, SECRET_ENV: secret},
        log_path=log_path,
        url=url,
        name="the floor server",
        timeout=60,
    )
    return proc, url, log_path


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # As `regentra serve` runs uvicorn (regentra/cli.py), less the app factory.
    uvicorn.run(
        create_app(os.environ[SECRET_ENV]),
        host="127.0.0.1",
        port=args.port,
        workers=1,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        log_level="info",
    )


if __name__ == "__main__":
    main()
