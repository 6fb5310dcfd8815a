"""Settings → Integrations → Stripe over HTTP, against the real Stripe sandbox server, on
SQLite and PostgreSQL: validation, Test Connection, first-connect catalog sync, the per-org
webhook URL (rotation, signature checks), disconnect, and secrets at rest.

In-process (the default, `stripe_app`): validation, keys Stripe rejects, the first Save's
catalog sync (run by `run_tasks`), webhook URLs and their rotation, disconnect; the test
posts to the webhook URLs itself, through the app in-process.

e2e (`stripe_server`, a real `regentra serve`; `stripe_down`, one whose Stripe is a dead
port): the tests that assert on the server's log (connect and save, Stripe unreachable,
signed and bad events), the sandbox delivering to the org's URL (it cannot reach an
in-process app), and the scan of the database's bytes at rest (which needs committed rows).

Secret scans: a stored secret (or its hint) would contain `sk_test_`/`sk_live_`/`rk_…_` or
`whsec_`, so the database scans look for those prefixes and for every secret value used.
Responses may carry the hint the issue asks for (`sk_test_…4f2a`: the prefix followed by an
ellipsis), never key material after a prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import _VAR, Database, Site, stop_server
from sandbox.stripe.conftest import new_key
from sandbox.stripe.receiver import deliveries, register, wait_until
from sqlalchemy import func, select
from support.postgres import find_pg_bin

from integrations.conftest import StripeApp, assert_no_secret, start_stripe_app
from regentra.models import AuditEvent, OrgSecret, StripeConnection

# In the database, not even a prefix may appear (hints are never stored).
STORED_PREFIX = re.compile(rb"(?:sk|rk)_(?:test|live)_|whsec_")


def pk(mode: str = "test") -> str:
    return f"pk_{mode}_{uuid.uuid4().hex}"


def whsec() -> str:
    return "whsec_" + uuid.uuid4().hex + uuid.uuid4().hex[:8]


def sign(payload: bytes, secret: str, *, at: int | None = None) -> str:
    """A `Stripe-Signature` header as Stripe makes it: t=<unix>,v1=HMAC-SHA256("{t}.{body}")."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(livemode: bool = False, type_: str = "invoice.paid") -> bytes:
    body = {
        "id": "evt_" + uuid.uuid4().hex[:24],
        "object": "event",
        "type": type_,
        "livemode": livemode,
        "created": int(time.time()),
        "api_version": "2026-10-28.endive",
        "data": {"object": {"id": "in_" + uuid.uuid4().hex[:24], "status": "paid"}},
    }
    return json.dumps(body).encode()


def fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    return {f["field"]: f["message"] for f in error["fields"]}


def audit(kit: Any, action: str) -> list[AuditEvent]:
    with kit.db.session() as s:
        stmt = select(AuditEvent).where(
            AuditEvent.org_id == kit.org.id, AuditEvent.action == action
        )
        # In the order they happened (without ORDER BY, PostgreSQL may answer in any order).
        return list(s.scalars(stmt.order_by(AuditEvent.created_at, AuditEvent.id)).all())


@pytest.mark.e2e
def test_connect_test_and_save(stripe_server: StripeApp) -> None:
    """e2e: ends with a scan of the server's log."""
    kit = stripe_server.make_org()
    sk, pub = new_key(), pk()
    with kit.api() as api:
        state = api.get("/integrations/stripe").json()
        assert state["configured"] is False and state["mode"] is None
        assert state["secret_key_hint"] is None and state["last_test"] is None
        assert state["webhook_signing_secret_configured"] is False
        assert state["catalog"].keys() == {"status", "last_sync_at", "items"}
        prefix = stripe_server.server.url + "/api/webhooks/stripe/"
        assert state["webhook_url"].startswith(prefix)
        token = state["webhook_url"].removeprefix(prefix)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes, base64url

        # Test Connection with unsaved keys: Stripe's account, nothing saved.
        r = api.post("/integrations/stripe/test", json={"publishable_key": pub, "secret_key": sk})
        assert r.status_code == 200, r.text
        tested = r.json()
        assert tested["ok"] is True and tested["mode"] == "test"
        assert tested["account_id"].startswith("acct_") and tested["account_name"]
        assert tested["account_id"] in tested["message"]
        assert_no_secret(r.text, sk)
        state = api.get("/integrations/stripe").json()
        assert state["configured"] is False
        assert state["last_test"]["ok"] is True
        assert state["last_test"]["account_id"] == tested["account_id"]

        # Save: stored, checked with Stripe, the catalog's first sync requested.
        r = api.put("/integrations/stripe", json={"publishable_key": pub, "secret_key": sk})
        assert r.status_code == 200, r.text
        state = r.json()
        assert state["configured"] is True and state["mode"] == "test"
        assert state["publishable_key"] == pub
        assert state["secret_key_hint"] == f"sk_test_\u2026{sk[-4:]}"
        assert state["last_test"]["ok"] is True
        assert state["last_test"]["account_id"] == tested["account_id"]
        assert_no_secret(r.text, sk)
        assert len(audit(kit, "catalog.sync_requested")) == 1

        # Omitted secret fields keep their value; a signing secret is added.
        secret = whsec()
        r = api.put(
            "/integrations/stripe", json={"publishable_key": pub, "webhook_signing_secret": secret}
        )
        assert r.status_code == 200, r.text
        assert r.json()["secret_key_hint"] == state["secret_key_hint"]
        assert r.json()["webhook_signing_secret_configured"] is True
        assert_no_secret(r.text, sk, secret)

        # Test Connection with the saved keys.
        r = api.post("/integrations/stripe/test")
        assert r.status_code == 200 and r.json()["ok"] is True, r.text
        assert r.json()["account_id"] == tested["account_id"]

        # A new key of the same account set: checked again, but no second first sync.
        sk2 = new_key()
        r = api.put("/integrations/stripe", json={"publishable_key": pub, "secret_key": sk2})
        assert r.json()["secret_key_hint"] == f"sk_test_\u2026{sk2[-4:]}"
        assert r.json()["last_test"]["account_id"] != tested["account_id"]  # a new account
        assert len(audit(kit, "catalog.sync_requested")) == 1

        # Nothing of the secrets in the audit log, as stored or as the API shows it.
        log = api.get("/audit-log", params={"limit": 100}).text
        assert_no_secret(log, sk, sk2, secret)
        assert "stripe.settings_updated" in log and "stripe.connection_tested" in log
    updates = audit(kit, "stripe.settings_updated")
    assert [e.details["changed"] for e in updates] == [
        ["publishable_key", "secret_key"],
        ["webhook_signing_secret"],
        ["secret_key"],
    ]
    assert_no_secret(stripe_server.server.log(), sk, sk2, secret)


def test_first_save_fills_the_catalog(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    """Acceptance 1's wiring: the first Save with working keys starts the catalog's sync,
    which reads the org's Stripe account with no further request (the consumer's part
    done by `run_tasks`)."""
    kit = stripe_app.make_org()
    sk = new_key()
    sdk = stripe_app.sandbox.client(sk)
    for i in range(3):
        product = sdk.v1.products.create(params={"name": f"Managed backup {i}"})
        sdk.v1.prices.create(
            params={"product": product.id, "unit_amount": 1000 + i, "currency": "usd"}
        )
    with kit.api() as api:
        assert api.put(
            "/integrations/stripe", json={"publishable_key": pk(), "secret_key": sk}
        ).json()["last_test"]["ok"]
        assert "stripe.catalog_sync" in run_tasks()
        catalog = api.get("/integrations/stripe").json()["catalog"]
        assert catalog["items"] == 3
    assert catalog["last_sync_at"] is not None


def test_validation_names_the_field_and_the_fix(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    sk, pub = new_key(), pk()
    with kit.api() as api:
        bad = fields(api.put("/integrations/stripe", json={"publishable_key": "pub_123"}))
        assert "pk_test_ or pk_live_" in bad["publishable_key"]
        bad = fields(api.put("/integrations/stripe", json={"publishable_key": sk}))
        assert "secret key" in bad["publishable_key"]
        # The publishable key pasted in the secret field.
        bad = fields(
            api.put("/integrations/stripe", json={"publishable_key": pub, "secret_key": pub})
        )
        assert "publishable key" in bad["secret_key"] and "sk_test_" in bad["secret_key"]
        bad = fields(
            api.put("/integrations/stripe", json={"publishable_key": pub, "secret_key": "key123"})
        )
        assert "sk_test_" in bad["secret_key"] and "rk_" in bad["secret_key"]
        # Test and live mixed, both ways.
        bad = fields(
            api.put(
                "/integrations/stripe", json={"publishable_key": pub, "secret_key": new_key("live")}
            )
        )
        assert "same mode" in bad["secret_key"]
        bad = fields(
            api.put("/integrations/stripe", json={"publishable_key": pk("live"), "secret_key": sk})
        )
        assert "live key" in bad["secret_key"] and "test key" in bad["secret_key"]
        bad = fields(
            api.put(
                "/integrations/stripe",
                json={"publishable_key": pub, "webhook_signing_secret": "sec_123"},
            )
        )
        assert "whsec_" in bad["webhook_signing_secret"]
        r = api.put("/integrations/stripe", json={"publishable_key": pub, "surprise": 1})
        assert r.status_code == 422
        # The same checks guard Test Connection.
        bad = fields(api.post("/integrations/stripe/test", json={"secret_key": pub}))
        assert "publishable key" in bad["secret_key"]
        # Nothing was stored by any of these.
        state = api.get("/integrations/stripe").json()
        assert state["publishable_key"] is None and state["last_test"] is None
        # With a saved test key, a live publishable key alone is a mix too.
        assert (
            api.put(
                "/integrations/stripe", json={"publishable_key": pub, "secret_key": sk}
            ).status_code
            == 200
        )
        bad = fields(api.put("/integrations/stripe", json={"publishable_key": pk("live")}))
        assert "saved secret key is a test key" in bad["publishable_key"]
        # A live pair is fine (the sandbox gives live keys their own account).
        r = api.put(
            "/integrations/stripe",
            json={"publishable_key": pk("live"), "secret_key": new_key("live")},
        )
        assert r.status_code == 200 and r.json()["mode"] == "live", r.text
        assert r.json()["secret_key_hint"].startswith("sk_live_\u2026")
        # A restricted key is a secret key too.
        rk = "rk_test_" + uuid.uuid4().hex
        r = api.put("/integrations/stripe", json={"publishable_key": pub, "secret_key": rk})
        assert r.status_code == 200 and r.json()["secret_key_hint"].startswith("rk_test_\u2026")
        assert_no_secret(r.text, sk, rk)


def test_keys_stripe_rejects(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    invalid = "sk_test_nope42"  # well-formed, unknown to Stripe
    with kit.api() as api:
        r = api.post("/integrations/stripe/test", json={"secret_key": invalid})
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["ok"] is False and result["account_id"] is None
        assert result["mode"] == "test" and result["message"]
        assert_no_secret(r.text, invalid)
        # Saved anyway (the admin may fix it later), but not confirmed: no catalog sync.
        r = api.put("/integrations/stripe", json={"publishable_key": pk(), "secret_key": invalid})
        assert r.status_code == 200, r.text
        assert r.json()["last_test"]["ok"] is False
        assert r.json()["last_test"]["message"] == result["message"]
        assert_no_secret(r.text, invalid)
        assert audit(kit, "catalog.sync_requested") == []
        # Saving again with working keys is the first working save.
        r = api.put("/integrations/stripe", json={"publishable_key": pk(), "secret_key": new_key()})
        assert r.json()["last_test"]["ok"] is True
        assert len(audit(kit, "catalog.sync_requested")) == 1
        # Nothing to test.
    other = stripe_app.make_org()
    with other.api() as api:
        r = api.post("/integrations/stripe/test")
        assert r.status_code == 200 and r.json()["ok"] is False
        assert "no secret key" in r.json()["message"]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


@pytest.fixture(scope="module")
def stripe_down(database: Database) -> Iterator[StripeApp]:
    """A server whose Stripe cannot be reached (e2e)."""
    server = start_stripe_app(database, f"http://127.0.0.1:{_dead_port()}")
    yield StripeApp(server, None, database)  # type: ignore[arg-type]
    stop_server(server)


@pytest.mark.e2e
def test_stripe_unreachable(stripe_down: StripeApp) -> None:
    """e2e: ends with a scan of the server's log."""
    kit = stripe_down.make_org()
    sk = new_key()
    with kit.api() as api:
        r = api.post("/integrations/stripe/test", json={"secret_key": sk})
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is False
        assert "reach stripe" in r.json()["message"].lower()
        r = api.put("/integrations/stripe", json={"publishable_key": pk(), "secret_key": sk})
        assert r.status_code == 200, r.text
        assert r.json()["configured"] is True and r.json()["last_test"]["ok"] is False
    assert audit(kit, "catalog.sync_requested") == []
    assert_no_secret(stripe_down.server.log(), sk)


def webhooks(app: StripeApp) -> httpx.Client:
    """A client for the app's (absolute) webhook URLs: the app in-process, or over HTTP."""
    if isinstance(app.server, Site):
        return app.server.http()
    return httpx.Client(timeout=30)


def _post(
    http: httpx.Client, url: str, body: bytes, signature: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return http.post(url, content=body, headers=headers)


def test_webhook_urls_are_per_org_and_rotate(stripe_app: StripeApp) -> None:
    a, b = stripe_app.make_org(), stripe_app.make_org()
    with a.api() as api_a, b.api() as api_b, webhooks(stripe_app) as http:
        url_a = api_a.get("/integrations/stripe").json()["webhook_url"]
        url_b = api_b.get("/integrations/stripe").json()["webhook_url"]
        assert url_a != url_b
        assert api_a.get("/integrations/stripe").json()["webhook_url"] == url_a  # stable
        # No signing secret yet: refused, and the refusal is shown.
        r = _post(http, url_a, event())
        assert r.status_code == 400 and r.json()["error"]["message"] == "webhook rejected"
        rejection = api_a.get("/integrations/stripe").json()["last_webhook_rejection"]
        assert rejection["at"] and "signing secret" in rejection["reason"]
        assert api_b.get("/integrations/stripe").json()["last_webhook_rejection"] is None

        r = api_a.post("/integrations/stripe/webhook-token/rotate")
        assert r.status_code == 200, r.text
        new_url = r.json()["webhook_url"]
        assert new_url != url_a and new_url.startswith(stripe_app.server.url)
        assert api_a.get("/integrations/stripe").json()["webhook_url"] == new_url
        old = _post(http, url_a, event())
        assert old.status_code == 404 and old.json()["error"]["code"] == "not_found"
        assert _post(http, new_url, event()).status_code == 400  # known again: no secret yet
        assert _post(http, url_b, event()).status_code == 400
        unknown = url_b.rsplit("/", 1)[0] + "/" + "A" * 43
        assert _post(http, unknown, event()).status_code == 404
    assert len(audit(a, "stripe.webhook_url_rotated")) == 1
    with a.db.session() as s:
        tokens = s.scalars(
            select(StripeConnection.webhook_token_hash).where(
                StripeConnection.org_id.in_([a.org.id, b.org.id])
            )
        ).all()
    token = new_url.rsplit("/", 1)[1]
    assert hashlib.sha256(token.encode()).hexdigest() in tokens
    assert len(set(tokens)) == 2


@pytest.mark.e2e
def test_signed_events_accepted_bad_ones_recorded(stripe_server: StripeApp) -> None:
    """e2e: ends with a scan of the server's log."""
    kit = stripe_server.make_org()
    secret = whsec()
    with kit.api() as api, webhooks(stripe_server) as http:
        api.put(
            "/integrations/stripe",
            json={
                "publishable_key": pk(),
                "secret_key": new_key(),
                "webhook_signing_secret": secret,
            },
        ).raise_for_status()
        url = api.get("/integrations/stripe").json()["webhook_url"]
        assert api.get("/integrations/stripe").json()["last_webhook_at"] is None

        body = event()
        r = _post(http, url, body, sign(body, secret))
        assert r.status_code == 200 and r.json() == {"received": True}, r.text
        state = api.get("/integrations/stripe").json()
        assert state["last_webhook_at"] is not None
        assert state["last_webhook_rejection"] is None

        def rejected(response: httpx.Response, reason: str) -> None:
            assert response.status_code == 400, response.text
            got = api.get("/integrations/stripe").json()["last_webhook_rejection"]
            assert reason in got["reason"], got
            assert response.json()["error"]["message"] == "webhook rejected"

        rejected(_post(http, url, body, sign(body, whsec())), "signature")  # wrong secret
        rejected(_post(http, url, body, sign(event(), secret)), "signature")  # another body
        rejected(
            _post(http, url, body, sign(body, secret, at=int(time.time()) - 3600)), "signature"
        )
        rejected(_post(http, url, body, "nonsense"), "signature")
        rejected(_post(http, url, body), "Stripe-Signature")
        live = event(livemode=True)
        rejected(_post(http, url, live, sign(live, secret)), "live-mode event")
        assert _post(http, url, b"x" * (1024 * 1024 + 1), sign(body, secret)).status_code == 413
        # A good one still goes through after all that.
        again = event(type_="invoice.payment_failed")
        assert _post(http, url, again, sign(again, secret)).status_code == 200
    assert_no_secret(stripe_server.server.log(), secret)


@pytest.mark.e2e
def test_sandbox_delivers_to_the_org_webhook_url(stripe_server: StripeApp) -> None:
    """The Dashboard step for real: the org's URL registered as an endpoint in the sandbox,
    its signing secret saved, and an event Stripe sends is verified by the SDK. e2e: the
    sandbox delivers to a real server."""
    kit = stripe_server.make_org()
    sk = new_key()
    with kit.api() as api:
        url = api.get("/integrations/stripe").json()["webhook_url"]
        with stripe_server.sandbox.control(sk) as control:
            endpoint = register(control, url, enabled_events="product.created")
        api.put(
            "/integrations/stripe",
            json={
                "publishable_key": pk(),
                "secret_key": sk,
                "webhook_signing_secret": endpoint["secret"],
            },
        ).raise_for_status()
        stripe_server.sandbox.client(sk).v1.products.create(params={"name": "Firewall care"})

        def answered() -> list[dict[str, Any]]:
            with stripe_server.sandbox.control(sk) as control:
                return deliveries(control, type="product.created")

        (attempt,) = wait_until(answered, timeout=15)
        assert attempt["outcome"] == "delivered" and attempt["status_code"] == 200, attempt
        assert api.get("/integrations/stripe").json()["last_webhook_at"]
        assert api.get("/integrations/stripe").json()["last_webhook_rejection"] is None


def test_disconnect_wipes_the_secrets(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    sk, secret = new_key(), whsec()
    with kit.api() as api, webhooks(stripe_app) as http:
        api.put(
            "/integrations/stripe",
            json={"publishable_key": pk(), "secret_key": sk, "webhook_signing_secret": secret},
        ).raise_for_status()
        url = api.get("/integrations/stripe").json()["webhook_url"]
        r = api.delete("/integrations/stripe")
        assert r.status_code == 200, r.text
        state = r.json()
        assert state["configured"] is False and state["mode"] is None
        assert state["publishable_key"] is None and state["secret_key_hint"] is None
        assert state["webhook_signing_secret_configured"] is False
        assert state["last_test"] is None
        assert state["webhook_url"] == url  # the URL stays; it refuses events meanwhile
        body = event()
        assert _post(http, url, body, sign(body, secret)).status_code == 400
        assert api.post("/integrations/stripe/test").json()["ok"] is False
    with kit.db.session() as s:
        purposes = s.scalars(select(OrgSecret.purpose).where(OrgSecret.org_id == kit.org.id)).all()
    assert sorted(purposes) == ["stripe_webhook_token"]
    assert len(audit(kit, "stripe.disconnected")) == 1


def _pg_dump(database: Database) -> bytes:
    bin_dir = find_pg_bin()
    assert bin_dir is not None
    url = urlsplit(database.url.replace("postgresql+psycopg://", "postgresql://"))
    result = subprocess.run(
        [
            str(bin_dir / "pg_dump"),
            "-h",
            str(url.hostname),
            "-p",
            str(url.port),
            "-U",
            "postgres",
            "--no-password",
            url.path.lstrip("/"),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"stripe_connections" in result.stdout and b"org_secrets" in result.stdout
    return result.stdout


def _sqlite_bytes(database: Database) -> bytes:
    path = Path(database.url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


@pytest.mark.e2e
def test_no_secret_at_rest_in_responses_pages_or_logs(stripe_server: StripeApp) -> None:
    """e2e: the database's bytes are scanned (rows a rolled-back test never commits), and
    the server's log."""
    kit = stripe_server.make_org()
    sk, rk, secret = new_key(), "rk_test_" + uuid.uuid4().hex, whsec()
    pub = pk()
    with kit.api() as api:
        answers = [
            api.post("/integrations/stripe/test", json={"publishable_key": pub, "secret_key": sk}),
            api.put(
                "/integrations/stripe",
                json={"publishable_key": pub, "secret_key": sk, "webhook_signing_secret": secret},
            ),
            api.get("/integrations/stripe"),
            api.put("/integrations/stripe", json={"publishable_key": pub, "secret_key": rk}),
            api.post("/integrations/stripe/test"),
            api.get("/audit-log", params={"limit": 100}),
        ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert_no_secret(answer.text, sk, rk, secret)
    raw = (
        _sqlite_bytes(stripe_server.database)
        if stripe_server.database.backend == "sqlite"
        else (_pg_dump(stripe_server.database))
    )
    assert b"v1.test1." in raw  # the scan sees the stored (encrypted) secrets
    assert not STORED_PREFIX.search(raw), STORED_PREFIX.search(raw)
    for value in (sk, rk, secret):
        assert value.encode() not in raw and value[-12:].encode() not in raw
    with kit.db.session() as s:
        rows = s.scalars(select(OrgSecret).where(OrgSecret.org_id == kit.org.id)).all()
    assert sorted(r.purpose for r in rows) == [
        "stripe_secret_key",
        "stripe_webhook_secret",
        "stripe_webhook_token",
    ]
    assert all(r.ciphertext.startswith("v1.test1.") for r in rows)
    assert_no_secret(stripe_server.server.log(), sk, rk, secret)


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_upgrades_a_database_with_orgs(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """0002 on a database that already holds orgs: they get their connection row and webhook
    token the first time their Stripe settings are read, and a second reader agrees."""
    from sqlalchemy import text
    from sqlalchemy.orm import sessionmaker

    from regentra.db import make_engine
    from regentra.integrations.stripe import settings
    from regentra.migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{_VAR / f'migrate-{uuid.uuid4().hex[:8]}.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"migrate_{uuid.uuid4().hex[:8]}"
        )
    upgrade(url, "0001")
    engine = make_engine(url)
    org_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orgs (id, name, slug, timezone, default_currency, "
                "default_hourly_rate, allow_self_approval, created_at, updated_at) VALUES "
                "(:id, 'Old MSP', 'old-msp', 'UTC', 'USD', 0, false, :now, :now)"
            ),
            {"id": org_id.hex if backend == "sqlite" else org_id, "now": datetime.now(UTC)},
        )
    upgrade(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as s:
        first = settings.status(s, org_id=org_id)
        s.commit()
    with sessions() as s:
        again = settings.status(s, org_id=org_id)
        assert (
            s.scalar(
                select(func.count())
                .select_from(StripeConnection)
                .where(StripeConnection.org_id == org_id)
            )
            == 1
        )
    assert first["webhook_url"] == again["webhook_url"]
    assert first["configured"] is False
    engine.dispose()
