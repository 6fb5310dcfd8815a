"""QuickBooks tokens against the sandbox: refreshed before they expire, refreshed once and
the call retried when QuickBooks answers 401, "reconnect needed" when Intuit refuses the
refresh token for good (revoked), cleared by reconnecting, which asks postings to resume;
and the rotated refresh token never lost when two worker processes refresh at once (e2e, on
SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import ROOT, Database, _org_factory
from sandbox.quickbooks.conftest import QboSandbox, start_sandbox, stop_sandbox
from sqlalchemy import select
from support.qbo_fixtures import QboApp, QboOrg, register_app, use_quickbooks
from web.pages import PageClient, flash

from integrations.quickbooks.test_connect import audits, callback, connect_via_api, local, start
from regentra import queue
from regentra.audit.service import Actor
from regentra.integrations.quickbooks import connection, oauth, postings, tokens
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.integrations.quickbooks.errors import ReconnectNeeded
from regentra.kit.time import utcnow
from regentra.models import QuickBooksConnection


def conn_of(db: Any, org_id: uuid.UUID) -> QuickBooksConnection:
    with db.session() as s:
        found = connection.find(s, org_id=org_id)
        assert found is not None
        return found


def set_access_expiry(db: Any, org_id: uuid.UUID, left: timedelta) -> None:
    with db.session() as s:
        found = connection.find(s, org_id=org_id)
        assert found is not None
        found.access_expires_at = utcnow() + left
        s.commit()


def revoke_at_sandbox(app: QboApp, token: str) -> None:
    """The company's owner removes the app in QuickBooks: the grant is revoked."""
    with httpx.Client(timeout=30) as http:
        r = http.post(
            app.sandbox.url + "/oauth2/v1/tokens/revoke",
            json={"token": token},
            auth=(app.client_id, app.client_secret),
        )
    assert r.status_code == 200, r.text


# ---- refresh ----------------------------------------------------------------------------------


def test_refreshed_before_expiry_then_the_call_goes_through(
    make_org: Any, connect_quickbooks: Any, db: Any
) -> None:
    q: QboOrg = connect_quickbooks(make_org())
    org_id = q.kit.org.id
    before = conn_of(db, org_id)
    with db.session() as s:
        old_access, old_refresh = tokens.saved(s, org_id=org_id)
    # Four minutes left: inside the five-minute margin, so refreshed before it is used.
    set_access_expiry(db, org_id, timedelta(minutes=4))
    with QuickBooks(org_id) as qbo:
        assert qbo.company_info()["Id"] == q.realm
        assert qbo.calls == 1  # no 401 first: refreshed ahead of time
    after = conn_of(db, org_id)
    assert after.token_version == before.token_version + 1
    assert after.access_expires_at is not None
    assert after.access_expires_at - utcnow() > timedelta(minutes=55)
    with db.session() as s:
        new_access, new_refresh = tokens.saved(s, org_id=org_id)
    assert new_access != old_access and new_refresh != old_refresh  # rotated, and kept
    # With an hour left, the stored token is used as it is.
    with QuickBooks(org_id) as qbo:
        qbo.preferences()
    assert conn_of(db, org_id).token_version == after.token_version


@pytest.fixture
def own_qbo(db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[QboApp]:
    """A QuickBooks sandbox of this test's own (its clock moves), the app pointed at it."""
    sandbox: QboSandbox = start_sandbox("--rate-limit", "0")
    try:
        use_quickbooks(monkeypatch, sandbox, "pending", "pending")
        client_id, secret = register_app(sandbox, oauth.redirect_uri())
        use_quickbooks(monkeypatch, sandbox, client_id, secret)
        yield QboApp(sandbox, client_id, secret)
    finally:
        stop_sandbox(sandbox)


def test_expired_at_quickbooks_401_refreshes_once_and_retries(
    site: Any, make_org: Any, own_qbo: QboApp, db: Any
) -> None:
    kit = make_org()
    realm = own_qbo.company()
    assert connect_via_api(site, kit, own_qbo, realm).status_code == 303
    version = conn_of(db, kit.org.id).token_version
    with db.session() as s:
        _, old_refresh = tokens.saved(s, org_id=kit.org.id)
    # An hour and a bit later at QuickBooks; our clock still thinks the token is fresh.
    with own_qbo.sandbox.control() as c:
        c.post("/_sandbox/clock/advance", json={"seconds": 3700}).raise_for_status()
    with QuickBooks(kit.org.id) as qbo:
        assert qbo.company_info()["Id"] == realm
        assert qbo.calls == 2  # 401, refresh, the same call again
    assert conn_of(db, kit.org.id).token_version == version + 1
    with own_qbo.sandbox.control() as c:
        log = c.get(f"/_sandbox/companies/{realm}/requests").json()["data"]
    statuses = [entry.get("status") for entry in log if "companyinfo" in str(entry.get("path"))]
    assert statuses[-2:] == [401, 200], log
    # The superseded refresh token is dead at Intuit; ours is the new one, and it works.
    with httpx.Client(timeout=30) as http:
        dead = http.post(
            own_qbo.sandbox.url + "/oauth2/v1/tokens/bearer",
            data={"grant_type": "refresh_token", "refresh_token": old_refresh},
            auth=(own_qbo.client_id, own_qbo.client_secret),
        )
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"
    assert tokens.refresh(kit.org.id, seen_version=version + 1).version == version + 2


# ---- revoked, then reconnected -----------------------------------------------------------------


@pytest.fixture
def resume_task(run_tasks: Any) -> Any:
    """The queue (emptied by `run_tasks`), to see what reconnecting enqueues."""
    return queue.get_huey()


def test_revoked_connection_needs_a_reconnect_and_reconnecting_resumes(
    site: Any, make_org: Any, connect_quickbooks: Any, qbo_app: QboApp, db: Any, resume_task: Any
) -> None:
    q: QboOrg = connect_quickbooks(make_org())
    kit = q.kit
    with db.session() as s:
        found = connection.find(s, org_id=kit.org.id)
        assert found is not None
        found.deposit_account_id = "35"
        found.mapping_saved_at = utcnow()
        s.commit()
        _, refresh = tokens.saved(s, org_id=kit.org.id)
    assert refresh
    revoke_at_sandbox(qbo_app, refresh)

    with QuickBooks(kit.org.id) as qbo, pytest.raises(ReconnectNeeded) as raised:
        qbo.company_info()
    assert "invalid_grant" in raised.value.message and "connect QuickBooks again" in (
        raised.value.message
    )
    found = conn_of(db, kit.org.id)
    assert found.reconnect_needed_at is not None
    assert found.reconnect_reason == raised.value.message
    assert not connection.ready(found)
    # Again: still refused at once (no call to Intuit), audited only once.
    with QuickBooks(kit.org.id) as qbo, pytest.raises(ReconnectNeeded):
        qbo.company_info()
    (entry,) = audits(kit, "quickbooks.reconnect_needed")
    assert entry.actor_type == "system" and entry.details["realm_id"] == q.realm
    assert refresh not in json.dumps(entry.details)

    with kit.api() as api:
        got = api.get("/integrations/quickbooks").json()
    assert got["connected"] is True and got["reconnect_needed"] is True
    assert got["reconnect_reason"] == raised.value.message and got["reconnect_needed_at"]
    r = callback(site, kit.admin, "/integrations")  # the card, signed in
    assert 'data-state="reconnect"' in r.text and 'id="quickbooks-reconnect"' in r.text
    assert ">Reconnect</button>" in r.text

    # Reconnect (the same company): cleared, the mapping kept, postings asked to resume.
    resume_task.flush()
    assert connect_via_api(site, kit, qbo_app, q.realm).status_code == 303
    found = conn_of(db, kit.org.id)
    assert found.reconnect_needed_at is None and found.reconnect_reason is None
    assert found.deposit_account_id == "35" and connection.ready(found)
    asked = [(t.name, tuple(t.args)) for t in resume_task.pending()]
    assert asked == [(postings.RESUME_TASK, (str(kit.org.id),))]
    with QuickBooks(kit.org.id) as qbo:
        assert qbo.company_info()["Id"] == q.realm
    assert len(audits(kit, "quickbooks.connected")) == 2


def test_connecting_another_company_clears_the_mapping(
    site: Any, make_org: Any, connect_quickbooks: Any, qbo_app: QboApp, db: Any
) -> None:
    q: QboOrg = connect_quickbooks(make_org())
    with db.session() as s:
        found = connection.find(s, org_id=q.kit.org.id)
        assert found is not None
        found.deposit_account_id = "35"
        found.mapping_saved_at = utcnow()
        s.commit()
    other = qbo_app.company(currency="GBP")
    location = qbo_app.authorize_url_answer(start(q.kit), other)
    assert callback(site, q.kit.admin, local(location)).status_code == 303
    found = conn_of(db, q.kit.org.id)
    assert found.realm_id == other and found.home_currency == "GBP"
    assert found.deposit_account_id is None and found.mapping_saved_at is None
    (_, second) = audits(q.kit, "quickbooks.connected")
    assert second.details == {"realm_id": other, "previous_realm_id": q.realm}


# ---- two worker processes refresh at the same moment (e2e) ------------------------------------

WORKER = """
import json, sys, time, uuid
from sqlalchemy import select
from regentra.db import session_scope
from regentra.integrations.quickbooks import tokens
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.models import QuickBooksConnection

org_id, start, rounds, step = uuid.UUID(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(
    sys.argv[4]
)
out = []
for r in range(rounds):
    at = start + r * step
    time.sleep(max(0.0, at - 0.4 - time.time()))
    with session_scope() as s:
        conn = s.scalar(select(QuickBooksConnection).where(QuickBooksConnection.org_id == org_id))
        seen = tokens.Access(conn.realm_id, "", conn.token_version)
    late = time.time() > at
    time.sleep(max(0.0, at - time.time()))
    try:
        # Round 0: the access token expired (the test saw to it); later rounds: as after a
        # 401, both workers call the version they saw stale at the same moment.
        got = tokens.access(org_id, stale=None if r == 0 else seen)
        with QuickBooks(org_id) as qbo:
            qbo.company_info()
        out.append({"seen": seen.version, "got": got.version, "late": late, "ok": True})
    except Exception as exc:
        out.append({"seen": seen.version, "late": late, "ok": False, "error": repr(exc)})
print(json.dumps(out))
"""


@pytest.fixture
def committed(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """This process's sessions commit to the backend's shared database (as the workers')."""
    import regentra.db

    monkeypatch.setattr(regentra.db, "get_sessionmaker", lambda: database.sessions)
    monkeypatch.setattr(regentra.db, "get_engine", lambda: database.engine)
    return database


@pytest.mark.e2e
def test_two_worker_processes_refresh_at_once_and_keep_the_rotated_token(
    committed: Database, app_qbo: QboSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_quickbooks(monkeypatch, app_qbo, "pending", "pending")
    client_id, secret = register_app(app_qbo, oauth.redirect_uri())
    use_quickbooks(monkeypatch, app_qbo, client_id, secret)
    app = QboApp(app_qbo, client_id, secret)
    kit = _org_factory(committed, None)()
    org_id = kit.org.id
    realm = app.company()
    url = oauth.auth_client().get_authorization_url(oauth.SCOPES, state_token=uuid.uuid4().hex)
    location = app.authorize_url_answer(url, realm)
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    with committed.session() as s:
        connection.complete(
            s, org_id=org_id, actor=Actor.of(kit.admin), code=query["code"], realm_id=realm
        )
        s.commit()
    first = conn_of(committed, org_id).token_version
    set_access_expiry(committed, org_id, timedelta(seconds=-1))

    rounds, step = 4, 1.5
    begin = time.time() + 15  # both processes have imported the app by then
    env = {**os.environ, "REGENTRA_DATABASE_URL": committed.url}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(org_id), str(begin), str(rounds), str(step)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
        assert b"Traceback" not in err, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))

    for rounds_of_worker in results:
        assert all(r["ok"] for r in rounds_of_worker), rounds_of_worker
    # Where both workers saw the same version and called at once, exactly one refreshed:
    # both came back with the same new version.
    raced = [
        (a, b)
        for a, b in zip(results[0], results[1], strict=True)
        if a["seen"] == b["seen"] and not a["late"] and not b["late"]
    ]
    assert raced, results
    for a, b in raced:
        assert a["got"] == b["got"] == a["seen"] + 1, results
    last = conn_of(committed, org_id)
    assert rounds <= last.token_version - first <= 2 * rounds, results
    assert last.reconnect_needed_at is None
    assert audits(kit, "quickbooks.reconnect_needed") == []
    # The stored refresh token is the live one: Intuit takes it.
    assert tokens.refresh(org_id, seen_version=last.token_version).version == (
        last.token_version + 1
    )
    with QuickBooks(org_id) as qbo:
        assert qbo.company_info()["Id"] == realm
    with committed.session() as s:
        assert (
            s.scalar(
                select(QuickBooksConnection.realm_id).where(QuickBooksConnection.org_id == org_id)
            )
            == realm
        )


def test_connected_even_when_quickbooks_cannot_describe_the_company(
    site: Any, make_org: Any, own_qbo: QboApp, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from regentra.config import get_settings

    monkeypatch.setenv("REGENTRA_QBO_RETRIES", "0")
    get_settings.cache_clear()
    kit = make_org()
    realm = own_qbo.company()
    location = own_qbo.authorize_url_answer(start(kit), realm)
    with own_qbo.sandbox.control() as c:
        c.post("/_sandbox/faults", json={"rate_503": 1.0}).raise_for_status()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        r = page.get(local(location))
        assert r.status_code == 303, r.text
        shown = page.follow(r)
    kind, message = flash(shown.text) or ("", "")
    assert kind == "success" and message.startswith(f"QuickBooks connected: company {realm}.")
    assert "did not answer" in message
    found = conn_of(db, kit.org.id)
    assert connection.is_connected(found) and found.company_name is None
    assert found.home_currency is None
    with own_qbo.sandbox.control() as c:
        c.post("/_sandbox/faults", json={"rate_503": 0.0}).raise_for_status()
    # Connecting again reads them.
    assert connect_via_api(site, kit, own_qbo, realm).status_code == 303
    found = conn_of(db, kit.org.id)
    assert found.company_name and found.home_currency == "USD"


@pytest.mark.e2e
def test_a_refresh_holds_no_database_lock_while_intuit_answers(
    committed: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intuit's token endpoint is slow: while one worker waits for it, others write the
    database (on SQLite a transaction is the whole database's write lock; on PostgreSQL the
    connection row's lock) without waiting, and a second refresh waits for the first's new
    version instead of spending the same refresh token."""
    from support.qbo_fixtures import app_for, connector

    own = start_sandbox("--rate-limit", "0")
    try:
        app = app_for(monkeypatch, own)
        kit = _org_factory(committed, None)()
        connector(app, committed)(kit)
        org_id = kit.org.id
        seen = conn_of(committed, org_id).token_version
        set_access_expiry(committed, org_id, timedelta(seconds=-1))
        with own.control() as c:
            c.post("/_sandbox/faults", json={"oauth_latency_ms": 2000}).raise_for_status()

        results: dict[str, Any] = {}

        def refresh(name: str) -> None:
            results[name] = tokens.refresh(org_id, seen_version=seen)

        first = threading.Thread(target=refresh, args=("first",))
        first.start()
        time.sleep(0.5)  # the first has the lease and is waiting for Intuit
        second = threading.Thread(target=refresh, args=("second",))
        second.start()
        started = time.monotonic()
        with committed.session() as s:
            found = connection.find(s, org_id=org_id)
            assert found is not None
            found.company_name = "Renamed while refreshing"
            s.commit()
        assert time.monotonic() - started < 1.0
        first.join(timeout=30)
        second.join(timeout=30)
        assert results["first"].version == results["second"].version == seen + 1
        last = conn_of(committed, org_id)
        assert last.token_version == seen + 1 and last.refresh_lease_until is None
        assert last.company_name == "Renamed while refreshing"
    finally:
        stop_sandbox(own)
