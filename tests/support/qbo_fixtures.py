"""The QuickBooks fixtures every test directory shares (a plugin of the root conftest, like
the Stripe ones): the session's QuickBooks sandbox for the app, an app registered in it
whose redirect URI is the app's callback, and `connect_quickbooks`, which connects an org to
a company of its own through Intuit OAuth against the sandbox.

`qbo_app`: this process's settings point at `app_qbo` (client id and secret of an app
registered there, the discovery URL as the environment, no client-side pacing).
`connect_quickbooks(kit, currency=..., multicurrency=...)` makes a new sandbox company, has
"a person" press Connect on the sandbox's authorize page, and completes the connection
through `integrations/quickbooks/connection.complete`; it returns a `QboOrg`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from conftest import Database
from factories import OrgKit
from sandbox.quickbooks.conftest import QboSandbox, start_sandbox, stop_sandbox

from regentra.audit.service import Actor


@pytest.fixture(scope="session")
def app_qbo() -> Iterator[QboSandbox]:
    """The QuickBooks sandbox the app talks to (limits off; a test that needs 429s or
    faults starts one of its own with `make_app_qbo`)."""
    sandbox = start_sandbox("--rate-limit", "0")
    yield sandbox
    stop_sandbox(sandbox)


@dataclass
class QboApp:
    """The app's QuickBooks settings, pointing at `sandbox`."""

    sandbox: QboSandbox
    client_id: str
    client_secret: str

    def company(self, *, currency: str = "USD", multicurrency: bool = False) -> str:
        """A new seeded company (its own books); returns its realm id."""
        with self.sandbox.control() as c:
            made = c.post(
                "/_sandbox/companies",
                json={
                    "name": f"MSP {uuid.uuid4().hex[:6]}",
                    "home_currency": currency,
                    "multicurrency": multicurrency,
                },
            )
            made.raise_for_status()
            return str(made.json()["realm_id"])

    def authorize_url_answer(self, url: str, realm: str, decision: str = "connect") -> str:
        """A person on the authorize page at `url`: pick `realm`, press Connect (or Cancel).
        Returns where the browser is sent (the app's callback URL with code and state)."""
        with httpx.Client(timeout=30) as browser:
            page = browser.get(url)
            assert page.status_code == 200, page.text
            data = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
            data.update({"realmId": realm, "decision": decision})
            answer = browser.post(self.sandbox.url + "/connect/oauth2", data=data)
        assert answer.status_code == 302, answer.text
        return str(answer.headers["location"])

    def objects(self, realm: str, entity: str) -> list[dict[str, Any]]:
        """Every object of `entity` (e.g. "Payment") in the company (control API)."""
        with self.sandbox.control() as c:
            got = c.get(f"/_sandbox/companies/{realm}/objects")
            got.raise_for_status()
        return list(got.json().get(entity, []))


def register_app(sandbox: QboSandbox, redirect_uri: str) -> tuple[str, str]:
    client_id, secret = "AB" + uuid.uuid4().hex, uuid.uuid4().hex
    with sandbox.control() as c:
        c.post(
            "/_sandbox/apps",
            json={"client_id": client_id, "client_secret": secret, "redirect_uris": [redirect_uri]},
        ).raise_for_status()
    return client_id, secret


def use_quickbooks(
    monkeypatch: pytest.MonkeyPatch, sandbox: QboSandbox, client_id: str, secret: str, **env: str
) -> None:
    """Point this process's settings at the QuickBooks `sandbox` (for one test)."""
    from regentra.config import get_settings

    monkeypatch.setenv("REGENTRA_QBO_CLIENT_ID", client_id)
    monkeypatch.setenv("REGENTRA_QBO_CLIENT_SECRET", secret)
    monkeypatch.setenv("REGENTRA_QBO_ENVIRONMENT", sandbox.discovery_url)
    monkeypatch.setenv("REGENTRA_QBO_MAX_RPS", "0")
    for name, value in env.items():
        monkeypatch.setenv(f"REGENTRA_{name.upper()}", value)
    get_settings.cache_clear()


def app_for(monkeypatch: pytest.MonkeyPatch, sandbox: QboSandbox, **env: str) -> QboApp:
    """Point this process's app at `sandbox` through an app registered there for its
    callback (for one test; `env`: other `REGENTRA_*` settings)."""
    from regentra.integrations.quickbooks import oauth

    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    use_quickbooks(monkeypatch, sandbox, "pending", "pending", **env)
    client_id, secret = register_app(sandbox, oauth.redirect_uri())
    use_quickbooks(monkeypatch, sandbox, client_id, secret, **env)
    return QboApp(sandbox, client_id, secret)


@pytest.fixture
def qbo_app(db: Database, app_qbo: QboSandbox, monkeypatch: pytest.MonkeyPatch) -> QboApp:
    """This process's app talks to `app_qbo` through an app registered for its callback."""
    return app_for(monkeypatch, app_qbo)


@dataclass
class QboOrg:
    kit: OrgKit
    app: QboApp
    realm: str

    def objects(self, entity: str) -> list[dict[str, Any]]:
        return self.app.objects(self.realm, entity)


def connector(app: QboApp, db: Database) -> Callable[..., QboOrg]:
    """`connect(kit, currency=, multicurrency=)`: the org connected to a new company of its
    own in `app`'s sandbox (OAuth against it, completed on the test's database)."""
    from regentra.integrations.quickbooks import connection, oauth

    def connect(kit: OrgKit, *, currency: str = "USD", multicurrency: bool = False) -> QboOrg:
        realm = app.company(currency=currency, multicurrency=multicurrency)
        auth = oauth.auth_client()
        url = auth.get_authorization_url(oauth.SCOPES, state_token=uuid.uuid4().hex)
        location = app.authorize_url_answer(url, realm)
        query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
        with db.session() as session:
            connection.complete(
                session,
                org_id=kit.org.id,
                actor=Actor.of(kit.admin),
                code=query["code"],
                realm_id=query["realmId"],
            )
            session.commit()
        return QboOrg(kit, app, realm)

    return connect


@pytest.fixture
def connect_quickbooks(qbo_app: QboApp, db: Database) -> Callable[..., QboOrg]:
    """Connect an org to a new company of its own (OAuth against the sandbox)."""
    return connector(qbo_app, db)
