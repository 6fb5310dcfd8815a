"""The web server's access log never holds a secret that a URL carries: the Stripe webhook
URL's token, or the QuickBooks OAuth callback's authorization code and state."""

from __future__ import annotations

import time

import httpx
import pytest
from conftest import LiveServer

from regentra.log_setup import redact_path

TOKEN = "whtok7Qz9mXkT2vB8nR4"
CODE = "AB11codeFromIntuit77"
STATE = "st8Xq2Lm5Np0"


def test_paths_lose_their_secrets() -> None:
    assert redact_path(f"/api/webhooks/stripe/{TOKEN}") == "/api/webhooks/stripe/…"
    assert (
        redact_path(f"/integrations/quickbooks/callback?code={CODE}&state={STATE}&realmId=1")
        == "/integrations/quickbooks/callback?…"
    )
    assert redact_path("/invoices?status=paid") == "/invoices?status=paid"
    assert redact_path("/integrations/quickbooks/callbackx?code=1") == (
        "/integrations/quickbooks/callbackx?code=1"
    )


@pytest.mark.e2e
def test_the_servers_access_log_holds_no_url_secret(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        http.post(f"/api/webhooks/stripe/{TOKEN}", content=b"{}")
        http.get(f"/integrations/quickbooks/callback?code={CODE}&state={STATE}&realmId=1")
        http.get("/healthz?marker=done")
    deadline = time.monotonic() + 10
    while "/healthz?marker=done" not in (log := live_server.log()):
        assert time.monotonic() < deadline, log
        time.sleep(0.1)
    assert "/api/webhooks/stripe/…" in log and "/integrations/quickbooks/callback?…" in log
    for secret in (TOKEN, CODE, STATE):
        assert secret not in log
