"""The sandbox's state: companies (realms) holding QuickBooks objects by entity type, the
registered client apps, OAuth grants and tokens, and a clock that control can advance.

All access goes through `Sandbox.lock` (an RLock). With a state file, the whole state is
written (atomically) after every change, so the demo keeps its books across restarts.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from regentra.sandbox.files import write_state
from regentra.sandbox.quickbooks.seed import DEFAULT_COMPANIES, seed_company

# The minor version Intuit serves since 2025-08-01 whatever older one is asked for.
MINOR_VERSION = 75
DEFAULT_CLIENT_ID = "ABsandboxclientid0000000000000000000000000000000"
DEFAULT_CLIENT_SECRET = "sandboxclientsecret00000000000000000000"  # noqa: S105 (sandbox only)
MAX_LOG = 10_000


def token(n: int = 32) -> str:
    return secrets.token_urlsafe(n)


def iso(ts: float) -> str:
    """QuickBooks' timestamp format, e.g. 2026-12-02T10:12:42-08:00 (here always UTC)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass
class Company:
    realm_id: str
    name: str
    home_currency: str
    multicurrency: bool
    country: str = "US"
    # entity name ("Customer") → Id → object in QuickBooks' JSON shape.
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    next_id: int = 1
    # requestid → {"fingerprint", "status", "body"}: the original answer, replayed.
    requestids: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def new_id(self) -> str:
        value = self.next_id
        self.next_id += 1
        return str(value)

    def of(self, entity: str) -> dict[str, dict[str, Any]]:
        return self.objects.setdefault(entity, {})

    def to_json(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id,
            "name": self.name,
            "home_currency": self.home_currency,
            "multicurrency": self.multicurrency,
            "country": self.country,
            "objects": self.objects,
            "next_id": self.next_id,
            "requestids": self.requestids,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Company:
        return cls(
            realm_id=data["realm_id"],
            name=data["name"],
            home_currency=data["home_currency"],
            multicurrency=data["multicurrency"],
            country=data.get("country", "US"),
            objects=data.get("objects", {}),
            next_id=data.get("next_id", 1),
            requestids=data.get("requestids", {}),
        )


class Sandbox:
    """Everything the emulator knows; one instance per running server."""

    def __init__(
        self,
        *,
        state_file: Path | None = None,
        rate_limit: int = 500,
        per_second: int = 10,
        concurrent: int = 10,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        redirect_uris: list[str] | None = None,
        seed: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.state_file = state_file
        self.clock_offset = 0.0
        # Intuit's per-realm limits (0 turns one off; rate_limit 0 turns all off).
        self.limits = {"per_minute": rate_limit, "per_second": per_second, "concurrent": concurrent}
        self.faults: dict[str, float] = {}
        self.base_url = "http://127.0.0.1:12112"
        self.companies: dict[str, Company] = {}
        # client_id → {"client_secret", "redirect_uris": [...]}: the developer portal's apps.
        self.apps: dict[str, dict[str, Any]] = {}
        # code → {client_id, redirect_uri, realm_id, scope, expires_at, used}
        self.codes: dict[str, dict[str, Any]] = {}
        # grant id → {client_id, realm_id, scope, created, revoked}
        self.grants: dict[str, dict[str, Any]] = {}
        # access token → {grant, expires_at}; refresh token → {grant, expires_at, superseded}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.signing_key_pem: str | None = None
        loaded = bool(state_file and state_file.exists())
        if loaded:
            assert state_file is not None
            self._load(state_file)
        # The app given on the command line is registered, or completed with its redirect
        # URIs, also when the state file already holds apps.
        app = self.apps.setdefault(client_id, {"client_secret": client_secret, "redirect_uris": []})
        for uri in redirect_uris or []:
            if uri not in app["redirect_uris"]:
                app["redirect_uris"].append(uri)
        if not loaded and seed:
            for name, currency, multicurrency, country in DEFAULT_COMPANIES:
                self.add_company(name, currency, multicurrency=multicurrency, country=country)

    # ---- time ---------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def stamp(self) -> str:
        return iso(self.now())

    # ---- companies ----------------------------------------------------------------------
    def company(self, realm_id: str) -> Company | None:
        return self.companies.get(realm_id)

    def add_company(
        self, name: str, home_currency: str, *, multicurrency: bool, country: str = "US"
    ) -> Company:
        with self.lock:
            realm_id = str(9341450000000000 + len(self.companies) + 1)
            while realm_id in self.companies:
                realm_id = str(int(realm_id) + 1)
            company = Company(realm_id, name, home_currency, multicurrency, country)
            self.companies[realm_id] = company
            self._seed(company)
            return company

    def reset(self) -> None:
        """Every company back to its seeded books; apps and companies stay, tokens too."""
        with self.lock:
            for company in self.companies.values():
                company.objects, company.next_id = {}, 1
                company.requestids, company.requests = {}, []
                self._seed(company)

    def _seed(self, company: Company) -> None:
        seed_company(company, lambda entity, obj: self.insert(company, entity, obj))

    def insert(self, company: Company, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object with QuickBooks' bookkeeping fields (Id, SyncToken, MetaData)."""
        stamp = self.stamp()
        obj["Id"] = company.new_id()
        obj["SyncToken"] = "0"
        obj["domain"] = "QBO"
        obj["sparse"] = False
        obj["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        company.of(entity)[obj["Id"]] = obj
        return obj

    def touch(self, obj: dict[str, Any]) -> None:
        """A change: the next SyncToken and a new LastUpdatedTime."""
        obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
        obj["MetaData"]["LastUpdatedTime"] = self.stamp()

    def log(self, company: Company, entry: dict[str, Any]) -> None:
        company.requests.append(entry)
        if len(company.requests) > MAX_LOG:
            del company.requests[: len(company.requests) - MAX_LOG]

    # ---- persistence --------------------------------------------------------------------
    def save(self) -> None:
        if not self.state_file:
            return
        with self.lock:
            data = {
                "clock_offset": self.clock_offset,
                "companies": [c.to_json() for c in self.companies.values()],
                "apps": self.apps,
                "codes": self.codes,
                "grants": self.grants,
                "access_tokens": self.access_tokens,
                "refresh_tokens": self.refresh_tokens,
                "signing_key_pem": self.signing_key_pem,
            }
            write_state(self.state_file, data)

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        self.clock_offset = data.get("clock_offset", 0.0)
        for raw in data.get("companies", []):
            company = Company.from_json(raw)
            self.companies[company.realm_id] = company
        self.apps = data.get("apps", {})
        self.codes = data.get("codes", {})
        self.grants = data.get("grants", {})
        self.access_tokens = data.get("access_tokens", {})
        self.refresh_tokens = data.get("refresh_tokens", {})
        self.signing_key_pem = data.get("signing_key_pem")
