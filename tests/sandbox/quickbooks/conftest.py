"""The QuickBooks sandbox as a separate server on 127.0.0.1, driven through `intuit-oauth`,
python-quickbooks and plain httpx."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from support.sandbox_process import spawn_sandbox, stop_process

REDIRECT_URI = "https://app.regentra.example/integrations/quickbooks/callback"


@dataclass
class QboSandbox:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def discovery_url(self) -> str:
        return self.url + "/.well-known/openid_configuration"

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def companies(self) -> list[dict[str, Any]]:
        with self.control() as c:
            return list(c.get("/_sandbox/companies").json()["data"])

    def realm(self, currency: str) -> str:
        return next(c["realm_id"] for c in self.companies() if c["home_currency"] == currency)

    def new_app(self) -> tuple[str, str]:
        client_id, secret = "AB" + uuid.uuid4().hex, uuid.uuid4().hex
        with self.control() as c:
            c.post(
                "/_sandbox/apps",
                json={
                    "client_id": client_id,
                    "client_secret": secret,
                    "redirect_uris": [REDIRECT_URI],
                },
            ).raise_for_status()
        return client_id, secret

    def auth_client(self, client_id: str, secret: str) -> AuthClient:
        return AuthClient(client_id, secret, REDIRECT_URI, environment=self.discovery_url)

    def authorize(
        self, auth: AuthClient, realm: str, scopes: list[Scopes], decision: str = "connect"
    ) -> dict[str, str]:
        """A person on the authorize page: pick `realm`, press Connect (or Cancel). Returns
        the query string the browser is redirected to."""
        url = auth.get_authorization_url(scopes)
        with httpx.Client(timeout=30) as browser:
            page = browser.get(url)
            assert page.status_code == 200 and "Connect" in page.text
            form = dict(parse_qs(urlparse(url).query))
            data = {k: v[0] for k, v in form.items()}
            data.update({"realmId": realm, "decision": decision})
            answer = browser.post(self.url + "/connect/oauth2", data=data)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(REDIRECT_URI)
        return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}

    def connect(self, realm: str, scopes: list[Scopes] | None = None) -> AuthClient:
        client_id, secret = self.new_app()
        auth = self.auth_client(client_id, secret)
        got = self.authorize(auth, realm, scopes or [Scopes.ACCOUNTING])
        auth.get_bearer_token(got["code"], realm_id=got["realmId"])
        return auth

    def qb(self, auth: AuthClient) -> QuickBooks:
        client = QuickBooks(
            auth_client=auth,
            refresh_token=auth.refresh_token,
            company_id=auth.realm_id,
            minorversion=75,
        )
        client.api_url_v3 = self.url + "/v3"
        return client

    def http(self, auth: AuthClient) -> httpx.Client:
        """A thin client on the company's v3 base URL, as the product's would be."""
        return httpx.Client(
            base_url=f"{self.url}/v3/company/{auth.realm_id}",
            headers={"Authorization": f"Bearer {auth.access_token}", "Accept": "application/json"},
            params={"minorversion": "75"},
            timeout=30,
        )


def start_sandbox(*args: str, state: Path | None = None) -> QboSandbox:
    return QboSandbox(*spawn_sandbox("quickbooks", "/_sandbox/clock", *args, state=state))


def stop_sandbox(sandbox: QboSandbox) -> None:
    stop_process(sandbox.process)


@pytest.fixture(scope="session")
def qbo() -> Iterator[QboSandbox]:
    """The session's sandbox server, limits off. Tests keep apart by their own app and by
    creating their own customers; tests that change sandbox-wide settings (faults, limits,
    the clock, reset) start a sandbox of their own (`make_qbo`)."""
    sandbox = start_sandbox("--rate-limit", "0")
    yield sandbox
    stop_sandbox(sandbox)


@pytest.fixture
def make_qbo() -> Iterator[Callable[..., QboSandbox]]:
    started: list[QboSandbox] = []

    def make(*args: str, state: Path | None = None) -> QboSandbox:
        sandbox = start_sandbox(*args, state=state)
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        stop_sandbox(sandbox)


@pytest.fixture(autouse=True)
def _plain_http_oauth(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-quickbooks talks through requests-oauthlib, which refuses http:// URLs unless
    this is set; the sandbox serves plain HTTP on loopback."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def us(qbo: QboSandbox) -> AuthClient:
    """A connection (tokens) to the seeded USD company."""
    return qbo.connect(qbo.realm("USD"))


@pytest.fixture
def uk(qbo: QboSandbox) -> AuthClient:
    """A connection to the seeded GBP company (multicurrency on)."""
    return qbo.connect(qbo.realm("GBP"))


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"
