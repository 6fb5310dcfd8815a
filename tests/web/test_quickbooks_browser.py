"""Connect QuickBooks in Debian's Chromium: a real `regentra serve` whose QuickBooks is the
session's sandbox (`app_qbo`), with an app registered for that server's callback URL. The
admin presses Connect on the card, picks the company on the sandbox's authorize page, presses
Connect there and lands back on the integrations page with the company shown; then
Disconnects. Ends with the secret scans: no access or refresh token (the first pair and a
rotated one) nor the client secret in the database's bytes, the API's answers, the page or
the server's log."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import Database, LiveServer, _org_factory
from integrations.quickbooks.test_connect_e2e import serving_quickbooks
from integrations.stripe.test_settings import _pg_dump, _sqlite_bytes
from playwright.sync_api import Page, expect
from sandbox.quickbooks.conftest import QboSandbox
from support.qbo_fixtures import QboApp

from regentra.integrations.quickbooks import tokens
from web.pages import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def qbo_server(database: Database, app_qbo: QboSandbox) -> Iterator[tuple[LiveServer, QboApp]]:
    with serving_quickbooks(database, app_qbo) as served:
        yield served


def _raw(database: Database) -> str:
    """The database's bytes (SQLite files, or a PostgreSQL dump)."""
    raw = _sqlite_bytes(database) if database.backend == "sqlite" else _pg_dump(database)
    return raw.decode(errors="replace")


def test_admin_connects_quickbooks_in_chromium(
    qbo_server: tuple[LiveServer, QboApp],
    database: Database,
    page: Page,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, app = qbo_server
    kit = _org_factory(database, server)()
    realm = app.company(currency="GBP", multicurrency=True)
    base = server.url

    page.goto(base + "/login")
    page.get_by_label("Email").fill(kit.admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#sign-in").click()
    page.locator('nav a[href="/integrations"]').click()
    expect(page.locator("#quickbooks-state")).to_have_attribute("data-state", "none")

    # Connect → Intuit's (the sandbox's) authorize page → this company → Connect.
    page.locator("#quickbooks-connect").click()
    expect(page.locator("h1")).to_have_text("Connect your QuickBooks company")
    assert page.url.startswith(app.sandbox.url + "/connect/oauth2?")
    page.locator(f'input[name="realmId"][value="{realm}"]').check()
    page.get_by_role("button", name="Connect").click()

    # Back on the integrations page, connected to that company.
    expect(page.locator("#flash")).to_contain_text("QuickBooks connected: MSP ")
    assert page.url == base + "/integrations"
    expect(page.locator("#quickbooks-state")).to_have_attribute("data-state", "connected")
    expect(page.locator("#quickbooks-company")).to_have_attribute("data-realm-id", realm)
    link = page.locator("#quickbooks-company-link")
    expect(link).to_have_attribute("href", f"{app.sandbox.url}/company/{realm}")
    expect(page.locator("#quickbooks-currency")).to_contain_text("GBP")
    company = link.inner_text()
    assert company.startswith("MSP ")
    connected_page = page.content()

    with kit.api() as api:
        status = api.get("/integrations/quickbooks")
    assert status.status_code == 200
    assert status.json()["company_name"] == company and status.json()["realm_id"] == realm

    # The tokens as stored (decrypted here), and a rotated pair: this process refreshes
    # through the same database.
    import regentra.db

    monkeypatch.setattr(regentra.db, "get_sessionmaker", lambda: database.sessions)
    monkeypatch.setattr(regentra.db, "get_engine", lambda: database.engine)
    monkeypatch.setenv("REGENTRA_QBO_CLIENT_ID", app.client_id)
    monkeypatch.setenv("REGENTRA_QBO_CLIENT_SECRET", app.client_secret)
    monkeypatch.setenv("REGENTRA_QBO_ENVIRONMENT", app.sandbox.discovery_url)
    from regentra.config import get_settings

    get_settings.cache_clear()
    with database.session() as s:
        first = tokens.saved(s, org_id=kit.org.id)
    with database.session() as s:
        from regentra.integrations.quickbooks import connection

        found = connection.find(s, org_id=kit.org.id)
        assert found is not None
        version = found.token_version
    tokens.refresh(kit.org.id, seen_version=version)
    with database.session() as s:
        second = tokens.saved(s, org_id=kit.org.id)
    secrets = [t for t in (*first, *second) if t] + [app.client_secret]
    assert len(secrets) == 5
    connected_raw = _raw(database)

    # Disconnect from the card (the confirmation box first).
    page.reload()
    page.locator("#quickbooks-more summary").click()
    page.locator("#quickbooks-disconnect-confirm").check()
    page.locator("#quickbooks-disconnect").click()
    expect(page.locator("#flash")).to_contain_text("QuickBooks disconnected")
    expect(page.locator("#quickbooks-state")).to_have_attribute("data-state", "none")
    with httpx.Client(timeout=30) as http:  # revoked at Intuit: the last refresh token is dead
        dead = http.post(
            app.sandbox.url + "/oauth2/v1/tokens/bearer",
            data={"grant_type": "refresh_token", "refresh_token": second[1]},
            auth=(app.client_id, app.client_secret),
        )
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"

    with kit.api() as api:
        answers = [api.get("/integrations/quickbooks").text, api.get("/audit-log").text]
    for text in (connected_page, page.content(), *answers, connected_raw, _raw(database)):
        for secret in secrets:
            assert secret not in text and secret[-12:] not in text
    for text in (server.log(),):
        for secret in secrets:
            assert secret not in text and secret[-12:] not in text
    assert "quickbooks.disconnected" in answers[1]
    assert "v1.test1." in connected_raw  # the scan saw the stored (encrypted) tokens
