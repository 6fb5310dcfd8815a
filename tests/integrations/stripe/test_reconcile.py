"""Reconciliation against the Stripe sandbox, on SQLite and PostgreSQL.

A paid invoice whose webhook was dropped (the sandbox's `drop` fault, or an org without an
endpoint) is healed by one run with one "payment found by reconciliation" audit entry, and a
second run changes nothing: through `POST /api/v1/integrations/stripe/reconcile` on the app
in-process (`stripe_app`), and through the real CLI (`regentra reconcile --org`, a
subprocess, so e2e on `stripe_server`'s committed data).

In-process, in the test's rolled-back transaction (`reconcile_all`/`reconcile_org` open
their sessions through `session_scope`, which joins it; Stripe is the session's sandbox):
the CLI's exit codes (Typer's runner); void/uncollectible in Stripe → one warning each,
status unchanged; a revoked key fails one org, recorded on its card, while another org is
healed in the same sweep; a 429 storm is recorded and keeps the checkpoint; the economy
(1,000 open invoices, 10 paid without a webhook, healed within 20 Stripe calls counted by
the sandbox's request log) through the Events API, the invoice lists and per-invoice
retrieval; the hourly periodic job fans out one task per connected org.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
from conftest import ROOT
from sandbox.stripe.conftest import new_key
from sqlalchemy import func, insert, select, update
from typer.testing import CliRunner

from integrations.conftest import Billing, StripeApp, connect_billing, use_stripe
from regentra import cli, periodic, queue
from regentra.config import get_settings
from regentra.integrations.stripe import reconcile as reconciliation
from regentra.integrations.stripe.client import StripeUnavailable
from regentra.invoices import transitions
from regentra.kit.time import utcnow
from regentra.models import AuditEvent, Invoice, StripeConnection
from regentra.orgs import secrets

FOUND = "payment found by reconciliation"
DAY = 86_400


# ---- helpers ---------------------------------------------------------------------------------


def faults(billing: Billing, **values: str) -> None:
    """Set the sandbox's faults (sandbox-wide); none given clears them."""
    with billing.control() as control:
        control.post("/_sandbox/faults", data=values).raise_for_status()


# What the run reads for refunds, disputes and payouts once the org has a paid invoice (three
# lists an hour: `test_movement_lists_cost_three_calls_an_hour`); the tests of the invoices'
# economy leave them out.
MOVEMENT_LISTS = ("/v1/refunds", "/v1/disputes", "/v1/payouts")


def requests_of(
    stripe_app: StripeApp, key: str, *, movements: bool = False
) -> list[dict[str, Any]]:
    """The API requests the sandbox logged for the account of `key`, oldest first (without
    the movement lists unless asked)."""
    with stripe_app.sandbox.control(key) as control:
        response = control.get("/_sandbox/requests", params={"limit": 10_000})
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return [r for r in data if movements or r["path"] not in MOVEMENT_LISTS]


def pay(billing: Billing, stripe_invoice_id: str) -> None:
    with billing.control() as control:
        control.post(f"/_sandbox/invoices/{stripe_invoice_id}/pay").raise_for_status()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def invoice_row(stripe_app: StripeApp, invoice_id: str | uuid.UUID) -> Invoice:
    with stripe_app.database.session() as s:
        row = s.get(Invoice, uuid.UUID(str(invoice_id)))
        assert row is not None
        return row


def audit(stripe_app: StripeApp, invoice_id: str | uuid.UUID, action: str) -> list[AuditEvent]:
    with stripe_app.database.session() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.subject_type == "invoice",
                    AuditEvent.subject_id == str(invoice_id),
                    AuditEvent.action == action,
                )
                .order_by(AuditEvent.created_at)
            )
        )


def connection(stripe_app: StripeApp, org_id: uuid.UUID) -> StripeConnection:
    with stripe_app.database.session() as s:
        row = s.scalar(select(StripeConnection).where(StripeConnection.org_id == org_id))
        assert row is not None
        return row


def stripe_invoices(client: Any, count: int, *, amount: int = 12_000) -> list[str]:
    """`count` open send_invoice invoices of one new customer in the sandbox account."""
    customer = client.v1.customers.create(params={"email": "ap@client.example.com"})

    def make(_i: int) -> str:
        invoice = client.v1.invoices.create(
            params={
                "customer": customer.id,
                "collection_method": "send_invoice",
                "days_until_due": 30,
            }
        )
        if amount:
            client.v1.invoice_items.create(
                params={
                    "customer": customer.id,
                    "invoice": invoice.id,
                    "amount": amount,
                    "currency": "usd",
                }
            )
        return str(client.v1.invoices.finalize_invoice(invoice.id).id)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(make, range(count)))


def our_open_rows(
    stripe_app: StripeApp, billing: Billing, stripe_ids: list[str], *, total: int = 12_000
) -> dict[str, tuple[uuid.UUID, str]]:
    """Our `sent` invoices for these Stripe invoices, inserted in bulk (one statement):
    Stripe invoice id → (our id, our number)."""
    kit = billing.kit
    client = kit.client()
    now = utcnow()
    tag = uuid.uuid4().hex[:6].upper()
    rows = [
        {
            "id": uuid.uuid4(),
            "org_id": kit.org.id,
            "client_id": client.id,
            "number": f"R{tag}-{i:05d}",
            "status": "sent",
            "currency": "USD",
            "total": total,
            "days_until_due": 30,
            "memo": "",
            "stripe_invoice_id": sid,
            "due_date": date.today() + timedelta(days=30),
            "sent_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for i, sid in enumerate(stripe_ids)
    ]
    with stripe_app.database.session() as s:
        s.execute(insert(Invoice), rows)
        s.commit()
    return {r["stripe_invoice_id"]: (r["id"], r["number"]) for r in rows}


def key_only_billing(stripe_app: StripeApp) -> Billing:
    """An org connected by its secret key alone: no webhook endpoint, so every webhook is
    lost (and a bulk test does not flood the server with deliveries)."""
    kit = stripe_app.make_org()
    key = new_key()
    with stripe_app.database.session() as s:
        secrets.put(s, org_id=kit.org.id, purpose="stripe_secret_key", value=key)
        s.commit()
    return Billing(kit, stripe_app.sandbox, key, "", "")


def set_checkpoint(stripe_app: StripeApp, org_id: uuid.UUID, value: int | None) -> None:
    with stripe_app.database.session() as s:
        s.execute(
            update(StripeConnection)
            .where(StripeConnection.org_id == org_id)
            .values(reconcile_checkpoint=value)
        )
        s.commit()


def make_old(stripe_app: StripeApp, org_id: uuid.UUID, *, days: int) -> None:
    """As if the org's invoices were made and sent, and last reconciled, `days` ago: longer
    than Stripe keeps events."""
    then = utcnow() - timedelta(days=days, hours=1)
    with stripe_app.database.session() as s:
        s.execute(
            update(Invoice).where(Invoice.org_id == org_id).values(created_at=then, sent_at=then)
        )
        s.commit()
    set_checkpoint(stripe_app, org_id, int(time.time()) - days * DAY)


def run_cli(stripe_app: StripeApp, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REGENTRA_DATABASE_URL": stripe_app.database.url,
        "REGENTRA_STRIPE_API_BASE": stripe_app.sandbox.url,
    }
    return subprocess.run(
        [sys.executable, "-m", "regentra", "reconcile", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---- the API route (in-process) and the CLI (a subprocess: e2e) ----------------------------------


def test_dropped_webhook_is_healed_by_the_api_route_and_a_second_run_changes_nothing(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    invoice = billing.sent_invoice()
    faults(billing, drop="1")
    try:
        pay(billing, invoice["stripe_invoice_id"])
        with billing.control() as control:
            wait_for(
                lambda: control.get("/_sandbox/deliveries", params={"type": "invoice.paid"}).json()[
                    "data"
                ],
                "the invoice.paid delivery attempt",
            )
            attempts = control.get("/_sandbox/deliveries", params={"type": "invoice.paid"})
        assert {a["outcome"] for a in attempts.json()["data"]} == {"dropped"}
        with billing.kit.api() as api:
            assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "sent"

            run = api.post("/integrations/stripe/reconcile")
            assert run.status_code == 200, run.text
            report = run.json()
            assert report["ok"] is True, report
            assert report["paid"] == [invoice["number"]]
            assert report["warnings"] == []
            assert report["open_invoices"] == 1
            assert 1 <= report["stripe_calls"] <= 2

            healed = api.get(f"/invoices/{invoice['id']}").json()
            assert healed["status"] == "paid"
            paid = audit(stripe_app, invoice["id"], "invoice.paid")
            assert [a.details["message"] for a in paid] == [FOUND]
            assert paid[0].details["stripe_event_id"].startswith("evt_")

            card = api.get("/integrations/stripe").json()["last_reconcile"]
            assert card["ok"] is True
            assert "1 found paid" in card["message"]
            assert card["at"] and card["checkpoint"]

            again = api.post("/integrations/stripe/reconcile")
            assert again.status_code == 200, again.text
            assert again.json()["ok"] is True
            assert again.json()["paid"] == []
            assert again.json()["open_invoices"] == 0
            assert again.json()["stripe_calls"] == 0  # nothing open: nothing to ask
    finally:
        faults(billing)
    assert len(audit(stripe_app, invoice["id"], "invoice.paid")) == 1
    assert invoice_row(stripe_app, invoice["id"]).amount_paid == invoice["total"]


@pytest.mark.e2e
def test_overdue_invoice_without_endpoint_is_healed_by_the_cli(stripe_server: StripeApp) -> None:
    """e2e: `regentra reconcile` as a process of its own, on committed data."""
    billing = connect_billing(stripe_server)
    with billing.control() as control:
        control.delete(f"/_sandbox/webhooks/{billing.endpoint_id}").raise_for_status()
    invoice = billing.sent_invoice()
    with stripe_server.database.session() as s:  # its due date passed: the sweep makes it overdue
        s.execute(
            update(Invoice)
            .where(Invoice.id == uuid.UUID(invoice["id"]))
            .values(due_date=date.today() - timedelta(days=2))
        )
        transitions.mark_overdue(s)
        s.commit()
    assert invoice_row(stripe_server, invoice["id"]).status == "overdue"
    pay(billing, invoice["stripe_invoice_id"])

    first = run_cli(stripe_server, "--org", str(billing.kit.org.id))
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"{billing.kit.org.id}  ok  Checked 1 open invoice" in first.stdout
    assert f"paid: {invoice['number']}" in first.stdout
    row = invoice_row(stripe_server, invoice["id"])
    assert row.status == "paid" and row.overdue_at is not None
    assert [a.details["message"] for a in audit(stripe_server, invoice["id"], "invoice.paid")] == [
        FOUND
    ]

    second = run_cli(stripe_server, "--org", str(billing.kit.org.id), "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    assert '"paid": []' in second.stdout and '"ok": true' in second.stdout
    assert len(audit(stripe_server, invoice["id"], "invoice.paid")) == 1


def test_the_cli_exits_1_when_a_run_fails_or_cannot_start(stripe_app: StripeApp) -> None:
    """The same command in this process (Typer's runner): the exit codes and messages."""
    runner = CliRunner()
    broken = key_only_billing(stripe_app)
    (sid,) = stripe_invoices(broken.stripe, 1)
    our_open_rows(stripe_app, broken, [sid])
    with stripe_app.database.session() as s:
        secrets.put(s, org_id=broken.kit.org.id, purpose="stripe_secret_key", value="sk_test_gone")
        s.commit()
    failed = runner.invoke(cli.app, ["reconcile", "--org", str(broken.kit.org.id)])
    assert failed.exit_code == 1, failed.output
    assert f"{broken.kit.org.id}  FAILED  Reconciliation failed: Stripe rejected" in failed.output
    assert "1 of 1 orgs failed" in failed.output

    unconnected = stripe_app.make_org()
    refused = runner.invoke(cli.app, ["reconcile", "--org", str(unconnected.org.id)])
    assert refused.exit_code == 1
    assert "Stripe is not connected" in refused.output
    nobody = runner.invoke(cli.app, ["reconcile", "--org", str(uuid.uuid4())])
    assert nobody.exit_code == 1 and "no org with id" in nobody.output
    garbled = runner.invoke(cli.app, ["reconcile", "--org", "not-a-uuid"])
    assert garbled.exit_code == 1 and "is not an org id" in garbled.output


def test_an_org_without_stripe_gets_409_from_the_route(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    with kit.api() as api:
        response = api.post("/integrations/stripe/reconcile")
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "stripe_not_connected"
        assert api.get("/integrations/stripe").json()["last_reconcile"] is None


# ---- void and uncollectible ----------------------------------------------------------------------


def test_void_and_uncollectible_in_stripe_warn_once_and_change_nothing(
    stripe_app: StripeApp,
) -> None:
    billing = key_only_billing(stripe_app)
    voided, uncollectible, *untouched = stripe_invoices(billing.stripe, 4)
    ours = our_open_rows(stripe_app, billing, [voided, uncollectible, *untouched])
    billing.stripe.v1.invoices.void_invoice(voided)
    billing.stripe.v1.invoices.mark_uncollectible(uncollectible)
    org_id = billing.kit.org.id

    (report,) = reconciliation.reconcile_all(org_id=org_id)
    assert report.ok, report.message
    assert report.paid == []
    assert len(report.warnings) == 2
    assert report.warnings[0].startswith(ours[voided][1])
    assert "void" in report.warnings[0] and "uncollectible" in report.warnings[1]
    for sid in (voided, uncollectible, *untouched):
        assert invoice_row(stripe_app, ours[sid][0]).status == "sent"
    warned = audit(stripe_app, ours[voided][0], "invoice.stripe_voided")
    assert len(warned) == 1 and warned[0].actor_type == "stripe"
    assert warned[0].details["stripe_status"] == "void"
    assert len(audit(stripe_app, ours[uncollectible][0], "invoice.stripe_uncollectible")) == 1

    # Hourly runs do not repeat them: not through the events (overlap), nor through the lists
    # a run without a usable checkpoint reads.
    assert reconciliation.reconcile_org(org_id).warnings == []
    make_old(stripe_app, org_id, days=40)
    before = len(requests_of(stripe_app, billing.key))
    listed = reconciliation.reconcile_org(org_id)
    used = requests_of(stripe_app, billing.key)[before:]
    assert listed.ok and listed.warnings == [] and listed.paid == []
    assert [r["path"] for r in used] == ["/v1/invoices"] * 3  # paid, void, uncollectible
    assert len(audit(stripe_app, ours[voided][0], "invoice.stripe_voided")) == 1
    assert len(audit(stripe_app, ours[uncollectible][0], "invoice.stripe_uncollectible")) == 1

    # An uncollectible invoice can still be paid: then it is paid here too.
    pay(billing, uncollectible)
    healed = reconciliation.reconcile_org(org_id)
    assert healed.paid == [ours[uncollectible][1]]
    assert invoice_row(stripe_app, ours[uncollectible][0]).status == "paid"
    assert invoice_row(stripe_app, ours[voided][0]).status == "sent"


# ---- failures ------------------------------------------------------------------------------------


def test_a_revoked_key_fails_its_org_only_and_is_recorded_on_its_card(
    stripe_app: StripeApp,
) -> None:
    healthy = key_only_billing(stripe_app)
    (paid_sid,) = stripe_invoices(healthy.stripe, 1)
    healthy_rows = our_open_rows(stripe_app, healthy, [paid_sid])
    pay(healthy, paid_sid)

    revoked = connect_billing(stripe_app)
    (open_sid,) = stripe_invoices(revoked.stripe, 1)
    our_open_rows(stripe_app, revoked, [open_sid])
    with stripe_app.database.session() as s:  # the key was rolled in the Stripe Dashboard
        secrets.put(s, org_id=revoked.kit.org.id, purpose="stripe_secret_key", value="sk_test_gone")
        s.commit()
    set_checkpoint(stripe_app, revoked.kit.org.id, 1_700_000_000)

    reports = {r.org_id: r for r in reconciliation.reconcile_all()}
    failed = reports[revoked.kit.org.id]
    assert not failed.ok
    assert "Stripe rejected the secret key" in failed.message
    assert "sk_test_gone" not in failed.message
    assert failed.paid == [] and failed.stripe_calls == 1
    ok = reports[healthy.kit.org.id]
    assert ok.ok and ok.paid == [healthy_rows[paid_sid][1]]
    assert invoice_row(stripe_app, healthy_rows[paid_sid][0]).status == "paid"

    conn = connection(stripe_app, revoked.kit.org.id)
    assert conn.last_reconcile_ok is False
    assert conn.last_reconcile_at is not None
    assert conn.reconcile_checkpoint == 1_700_000_000  # not moved by a failed run
    with revoked.kit.api() as api:
        card = api.get("/integrations/stripe").json()["last_reconcile"]
        assert card["ok"] is False
        assert card["message"].startswith("Reconciliation failed: Stripe rejected the secret key")
        # The route answers with the run's report, the failure included.
        run = api.post("/integrations/stripe/reconcile")
        assert run.status_code == 200, run.text
        assert run.json()["ok"] is False


def test_a_429_storm_is_recorded_keeps_the_checkpoint_and_is_retried(
    stripe_app: StripeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_stripe(
        monkeypatch,
        stripe_app.sandbox.url,
        stripe_rate_limit_retries="1",
        stripe_backoff_base_seconds="0.01",
    )
    billing = key_only_billing(stripe_app)
    (sid,) = stripe_invoices(billing.stripe, 1)
    rows = our_open_rows(stripe_app, billing, [sid])
    pay(billing, sid)
    org_id = billing.kit.org.id
    faults(billing, rate_429="1")
    try:
        report = reconciliation.reconcile_org(org_id)
        assert not report.ok
        assert "rate-limiting" in report.message
        with pytest.raises(StripeUnavailable):  # the task's body: retried by the queue
            reconciliation.run_task(org_id)
    finally:
        faults(billing)
    conn = connection(stripe_app, org_id)
    assert conn.last_reconcile_ok is False and conn.reconcile_checkpoint is None
    assert invoice_row(stripe_app, rows[sid][0]).status == "sent"

    report = reconciliation.reconcile_org(org_id)
    assert report.ok and report.paid == [rows[sid][1]]
    conn = connection(stripe_app, org_id)
    assert conn.last_reconcile_ok is True and conn.reconcile_checkpoint is not None


# ---- economy -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_1000_open_invoices_with_10_paid_are_healed_within_20_stripe_calls(
    stripe_app: StripeApp,
) -> None:
    """Both backends: creating the 1,000 Stripe invoices takes ~15 s per backend."""
    billing = key_only_billing(stripe_app)
    org_id = billing.kit.org.id
    sids = stripe_invoices(billing.stripe, 1000)
    ours = our_open_rows(stripe_app, billing, sids)

    def heal(batch: list[str], expect_paths: set[str]) -> None:
        for sid in batch:
            pay(billing, sid)
        before = len(requests_of(stripe_app, billing.key))
        report = reconciliation.reconcile_org(org_id)
        used = requests_of(stripe_app, billing.key)[before:]
        assert report.ok, report.message
        assert report.paid == sorted(ours[sid][1] for sid in batch)
        assert len(used) <= 20, [r["path"] for r in used]
        assert report.stripe_calls == len(used)
        assert {r["path"] for r in used} == expect_paths

    # First run (no checkpoint): every invoice is younger than the event horizon → events.
    heal(sids[:10], {"/v1/events"})
    # The hourly run: events since the checkpoint.
    heal(sids[10:20], {"/v1/events"})
    # After a gap longer than Stripe keeps events: the paid/void/uncollectible lists.
    make_old(stripe_app, org_id, days=40)
    heal(sids[20:30], {"/v1/invoices"})

    with stripe_app.database.session() as s:
        statuses = dict(
            s.execute(
                select(Invoice.status, func.count())
                .where(Invoice.org_id == org_id)
                .group_by(Invoice.status)
            ).all()
        )
        found = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.org_id == org_id, AuditEvent.action == "invoice.paid")
        )
    assert statuses == {"paid": 30, "sent": 970}
    assert found == 30


def test_a_few_old_open_invoices_are_retrieved_one_by_one(stripe_app: StripeApp) -> None:
    billing = key_only_billing(stripe_app)
    org_id = billing.kit.org.id
    sids = stripe_invoices(billing.stripe, 2)
    ours = our_open_rows(stripe_app, billing, sids)
    with stripe_app.database.session() as s:
        s.execute(
            update(Invoice)
            .where(Invoice.org_id == org_id)
            .values(created_at=utcnow() - timedelta(days=60))
        )
        s.commit()
    pay(billing, sids[1])
    before = len(requests_of(stripe_app, billing.key))
    report = reconciliation.reconcile_org(org_id)
    used = requests_of(stripe_app, billing.key)[before:]
    assert report.ok and report.paid == [ours[sids[1]][1]]
    assert sorted(r["path"] for r in used) == sorted(f"/v1/invoices/{sid}" for sid in sids)


def test_long_lists_give_way_to_retrieving_each_open_invoice(stripe_app: StripeApp) -> None:
    """Four old open invoices, and 450 paid invoices in Stripe since the oldest: listing
    would take 7 pages, retrieving the four takes four calls; a run stops paging there and
    retrieves what the pages it read did not settle."""
    billing = key_only_billing(stripe_app)
    org_id = billing.kit.org.id
    stripe_invoices(billing.stripe, 450, amount=0)  # nothing due: paid when finalized
    sids = stripe_invoices(billing.stripe, 4)  # the newest: on the first page of the lists
    ours = our_open_rows(stripe_app, billing, sids)
    make_old(stripe_app, org_id, days=60)
    pay(billing, sids[0])
    before = len(requests_of(stripe_app, billing.key))
    report = reconciliation.reconcile_org(org_id)
    used = [r["path"] for r in requests_of(stripe_app, billing.key)[before:]]
    assert report.ok and report.paid == [ours[sids[0]][1]]
    lists = [p for p in used if p == "/v1/invoices"]
    retrieved = [p for p in used if p != "/v1/invoices"]
    assert len(lists) == len(sids)  # as many pages as retrieving all would cost, no more
    # The paid one was on the first page; the three the lists did not settle are retrieved.
    assert sorted(retrieved) == sorted(f"/v1/invoices/{sid}" for sid in sids[1:])


# ---- the periodic job ----------------------------------------------------------------------------


def test_the_hourly_job_is_scheduled_and_fans_out_one_task_per_connected_org(
    stripe_app: StripeApp,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    monkeypatch.setenv("REGENTRA_QUEUE_URL", f"sqlite:///{tmp_path / 'queue.db'}")
    get_settings.cache_clear()
    queue.get_huey.cache_clear()
    try:
        huey = queue.get_huey()  # what `regentra worker` and `serve` start with
        entry = next(e for e in periodic.SCHEDULE if e.name == "stripe.reconcile")
        assert entry.task == "stripe.reconcile_sweep"
        ran = [minute for minute in range(60) if entry.schedule(utcnow().replace(minute=minute))]
        assert ran == [7]
        (job,) = [
            t
            for t in huey._registry.periodic_tasks
            if type(t).__name__ == "periodic.stripe.reconcile"
        ]

        billing = key_only_billing(stripe_app)
        (sid,) = stripe_invoices(billing.stripe, 1)
        ours = our_open_rows(stripe_app, billing, [sid])
        pay(billing, sid)

        huey.execute(type(job)())
        pending = [t for t in huey.pending() if t.name == "stripe.reconcile"]
        assert str(billing.kit.org.id) in {t.args[0] for t in pending}
        assert len(pending) == len(reconciliation.connected_orgs())
        (mine,) = [t for t in pending if t.args[0] == str(billing.kit.org.id)]
        huey.execute(mine)
        assert invoice_row(stripe_app, ours[sid][0]).status == "paid"
        assert connection(stripe_app, billing.kit.org.id).last_reconcile_ok is True
        huey.flush()
    finally:
        queue.get_huey.cache_clear()
        get_settings.cache_clear()


def test_movement_lists_cost_three_calls_an_hour(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    """Refunds, disputes and payouts: nothing is read for an org with no paid invoice; then
    one page of each list a run while nothing moves."""
    billing = connect_billing(stripe_app)
    run_tasks()
    with billing.kit.api() as api:
        before = len(requests_of(stripe_app, billing.key, movements=True))
        assert api.post("/integrations/stripe/reconcile").json()["movements_read"] == 0
        assert len(requests_of(stripe_app, billing.key, movements=True)) == before
        invoice = billing.sent_invoice()
        pay(billing, invoice["stripe_invoice_id"])
        assert api.post("/integrations/stripe/reconcile").json()["ok"]
        before = len(requests_of(stripe_app, billing.key, movements=True))
        report = api.post("/integrations/stripe/reconcile").json()
    used = [r["path"] for r in requests_of(stripe_app, billing.key, movements=True)[before:]]
    assert report["ok"] and report["movements_read"] == 0
    assert sorted(used) == sorted(MOVEMENT_LISTS), used
