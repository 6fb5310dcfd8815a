"""Connect against a real `regentra serve` whose QuickBooks is the session's sandbox
(`app_qbo`), with an app registered for that server's own callback URL (`qbo_server`, also
used by the Chromium test in tests/web/test_quickbooks_browser.py): the same callback four
times at once connects once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from conftest import Database, LiveServer, OrgKit, _org_factory, start_server, stop_server
from sandbox.quickbooks.conftest import QboSandbox
from support.qbo_fixtures import QboApp
from web.pages import PageClient

from regentra.integrations.quickbooks import oauth

pytestmark = pytest.mark.e2e


@contextmanager
def serving_quickbooks(
    database: Database,
    sandbox: QboSandbox,
    *,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[tuple[LiveServer, QboApp]]:
    """A server whose QuickBooks app is registered at `sandbox` for its own callback
    (`extra_env`, `args`: more settings and `regentra serve` options)."""
    client_id, secret = "AB" + uuid.uuid4().hex, uuid.uuid4().hex
    env = {
        "REGENTRA_QBO_CLIENT_ID": client_id,
        "REGENTRA_QBO_CLIENT_SECRET": secret,
        "REGENTRA_QBO_ENVIRONMENT": sandbox.discovery_url,
        "REGENTRA_QBO_MAX_RPS": "0",
        **(extra_env or {}),
    }
    server = start_server(database.url, extra_env=env, args=args)
    try:
        with sandbox.control() as c:
            c.post(
                "/_sandbox/apps",
                json={
                    "client_id": client_id,
                    "client_secret": secret,
                    "redirect_uris": [server.url + oauth.CALLBACK_PATH],
                },
            ).raise_for_status()
        yield server, QboApp(sandbox, client_id, secret)
    finally:
        stop_server(server)


def authorized(
    server: LiveServer, app: QboApp, kit: OrgKit, realm: str
) -> tuple[str, dict[str, str]]:
    """The org's admin presses Connect on the server's QuickBooks card and picks `realm` on
    the sandbox's authorize page: the callback URL the browser is sent to, and the
    browser's cookies (the callback is not followed yet)."""
    with PageClient(server.url) as page:
        page.login(kit.admin.email)
        r = page.post("/integrations/quickbooks/connect")
        assert r.status_code == 303, r.text
        location = app.authorize_url_answer(r.headers["location"], realm)
        assert location.startswith(server.url + oauth.CALLBACK_PATH)
        return location, dict(page.http.cookies)


def connect_through_callback(server: LiveServer, app: QboApp, kit: OrgKit, realm: str) -> None:
    """Connect the org to `realm` as its admin does in a browser, callback included."""
    location, cookies = authorized(server, app, kit, realm)
    with httpx.Client(cookies=cookies, timeout=60) as browser:
        r = browser.get(location)
    assert r.status_code == 303, r.text


@pytest.fixture
def qbo_server(database: Database, app_qbo: QboSandbox) -> Iterator[tuple[LiveServer, QboApp]]:
    with serving_quickbooks(database, app_qbo) as served:
        yield served


def test_one_callback_wins_when_the_same_one_arrives_four_times_at_once(
    qbo_server: tuple[LiveServer, QboApp], database: Database
) -> None:
    """The state is consumed by a conditional UPDATE: of four identical callbacks sent at
    once to a real server, exactly one connects; the others are told it was used."""
    server, app = qbo_server
    kit = _org_factory(database, server)()
    realm = app.company()
    location, cookies = authorized(server, app, kit, realm)
    barrier = threading.Barrier(4)

    def send(_: int) -> tuple[int, bool]:
        with httpx.Client(cookies=cookies, timeout=60) as http:
            barrier.wait()
            r = http.get(location)
            return r.status_code, "This QuickBooks sign-in was already used." in r.text

    with ThreadPoolExecutor(4) as pool:
        answers = sorted(pool.map(send, range(4)))
    # The losers never reached Intuit with the code (which it would refuse as used).
    assert answers == [(303, False), (409, True), (409, True), (409, True)], answers
    with kit.api() as api:
        got = api.get("/integrations/quickbooks").json()
        events = api.get("/audit-log", params={"action": "quickbooks.connected"}).json()
    assert got["connected"] is True and got["realm_id"] == realm
    assert [e["action"] for e in events["items"]].count("quickbooks.connected") == 1
