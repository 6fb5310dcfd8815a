"""Month-end invoice runs through the API, in-process against the Stripe sandbox: a run for last
month lists the clients with approved, uninvoiced time in it (hours, amounts, totals), makes a
draft per ticked client, sends them in the background with a result per invoice; sending twice
sends nothing twice, a client billed meanwhile has nothing left, a Stripe outage fails items
with Stripe's words and sending again retries only those."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner
from web.pages import PageClient, misaligned_headers

from integrations.conftest import Billing, StripeApp, connect_billing
from integrations.platform.conftest import Platform
from integrations.stripe.conftest import cancel_platform_subscription
from integrations.stripe.test_sending import assert_sent_once, error
from regentra import cli
from regentra.config import get_settings
from regentra.invoice_runs import service
from regentra.models import Invoice

RUNS = "/invoice-runs"


def _last_month() -> date:
    return date.today().replace(day=1) - timedelta(days=3)


@pytest.fixture
def billing(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> Billing:
    # In-process, the app shares the test's one database connection: the send job sends one
    # draft at a time here (several at once: the e2e test below, on a real server).
    monkeypatch.setenv("REGENTRA_INVOICE_RUN_SEND_WORKERS", "1")
    get_settings.cache_clear()
    made = connect_billing(stripe_app)
    run_tasks()  # the first Save's catalog sync
    return made


def _client_with_time(billing: Billing, name: str, *minutes: int, **kw: Any) -> Any:
    kit = billing.kit
    client = kit.client(name=name, hourly_rate=12000)
    ticket = kit.ticket(client)
    tech, approver = kit.add_user("technician"), kit.add_user("approver")
    for m in minutes:
        kit.entry(tech, ticket=ticket, minutes=m, status="approved", approver=approver, **kw)
    return client


def _post(billing: Billing, path: str, **kw: Any) -> Any:
    with billing.kit.api() as api:
        return api.post(path, **kw)


def _get(billing: Billing, run_id: str) -> dict[str, Any]:
    with billing.kit.api() as api:
        got = api.get(f"{RUNS}/{run_id}")
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def test_a_run_for_last_month_drafts_and_sends_the_ticked_clients(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    last = _last_month()
    acme = _client_with_time(billing, "Acme", 90, 30, work_date=last)
    beta = _client_with_time(billing, "Beta", 60, work_date=last)
    _client_with_time(billing, "Gamma", 45, work_date=last)
    _client_with_time(billing, "Now Ltd", 60)  # this month: not in last month's run
    made = _post(billing, RUNS, json={})
    assert made.status_code == 201, made.text
    run = made.json()
    assert (run["status"], run["period_start"]) == ("review", last.replace(day=1).isoformat())
    listed = [(i["client_name"], i["entries"], i["minutes"], i["amount"]) for i in run["items"]]
    assert listed == [("Acme", 2, 120, 24000), ("Beta", 1, 60, 12000), ("Gamma", 1, 45, 9000)]
    assert (
        run["totals"] == [{"currency": "USD", "amount": 45000, "minutes": 225}]
        and run["minutes"] == 225
    )

    # Untick Gamma; generate: one draft each for Acme and Beta.
    ticked = {"client_ids": [str(acme.id), str(beta.id)]}
    generated = _post(billing, f"{RUNS}/{run['id']}/generate", json=ticked)
    assert generated.status_code == 200, generated.text
    run = generated.json()
    assert [(i["client_name"], i["state"]) for i in run["items"]] == [
        ("Acme", "draft"),
        ("Beta", "draft"),
        ("Gamma", "excluded"),
    ]
    assert run["status"] == "generated" and run["totals"][0]["amount"] == 36000
    drafts = [i for i in run["items"] if i["invoice_id"]]
    assert all(i["invoice_number"] for i in drafts)

    sending = _post(billing, f"{RUNS}/{run['id']}/send")
    assert sending.status_code == 202, sending.text
    assert sending.json()["status"] == "sending"
    assert sending.json()["progress"] == {
        "counts": {"sending": 2, "excluded": 1},
        "to_send": 2,
        "done": 0,
        "refused": 0,
    }
    assert run_tasks().count(service.SEND_TASK) == 1
    run = _get(billing, run["id"])
    assert run["status"] == "done" and run["finished_at"]
    assert run["progress"]["done"] == 2 and run["progress"]["counts"]["sent"] == 2
    for item in drafts:
        assert_sent_once(billing, item["invoice_id"])

    # Twice: nothing is sent twice, and the drafts are not made again.
    again = _post(billing, f"{RUNS}/{run['id']}/send")
    assert again.status_code == 409 and error(again)["code"] == "nothing_to_send"
    regenerate = _post(billing, f"{RUNS}/{run['id']}/generate", json={})
    assert regenerate.status_code == 409 and error(regenerate)["code"] == "run_busy"
    # Gamma's time is still there for another run.
    second = _post(billing, RUNS, json={"period": last.strftime("%Y-%m")})
    assert [i["client_name"] for i in second.json()["items"]] == ["Gamma"]
    with billing.kit.api() as api:
        listed_runs = api.get(RUNS).json()["items"]
    assert [r["id"] for r in listed_runs] == [second.json()["id"], run["id"]]


def test_a_client_billed_meanwhile_has_nothing_left_and_stripe_failures_are_retried(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    last = _last_month()
    acme = _client_with_time(billing, "Acme", 60, work_date=last)
    _client_with_time(billing, "Beta", 60, work_date=last)
    run = _post(billing, RUNS, json={"period": last.strftime("%Y-%m")}).json()
    # Acme is billed on its own before the run generates: every entry is billed once.
    single = _post(billing, "/invoices", json={"client_id": str(acme.id)})
    assert single.status_code == 201, single.text
    run = _post(billing, f"{RUNS}/{run['id']}/generate").json()
    assert [(i["client_name"], i["state"]) for i in run["items"]] == [
        ("Acme", "nothing"),
        ("Beta", "draft"),
    ]
    assert "billed meanwhile" in run["items"][0]["error"]

    # Stripe fails while the job sends: the item fails with Stripe's words, the run is done.
    assert _post(billing, f"{RUNS}/{run['id']}/send").status_code == 202
    with billing.control() as control:
        assert control.post("/_sandbox/faults", data={"rate_500": "1"}).status_code == 200
        try:
            run_tasks()
        finally:
            assert control.post("/_sandbox/faults").status_code == 200
    run = _get(billing, run["id"])
    (beta,) = [i for i in run["items"] if i["client_name"] == "Beta"]
    assert run["status"] == "done" and beta["state"] == "failed"
    assert "Stripe" in beta["error"]
    # Sending again retries the failed one only; it is sent once.
    assert _post(billing, f"{RUNS}/{run['id']}/send").status_code == 202
    run_tasks()
    run = _get(billing, run["id"])
    (beta,) = [i for i in run["items"] if i["client_name"] == "Beta"]
    assert beta["state"] == "sent" and beta["error"] is None
    assert_sent_once(billing, beta["invoice_id"])


def test_bad_periods_and_empty_runs_are_refused_in_words(billing: Billing) -> None:
    for body, words in (
        ({"period": "2026-13"}, "YYYY-MM"),
        ({"period": "november"}, "YYYY-MM"),
        ({"period_start": "2026-11-30", "period_end": "2026-11-01"}, "after"),
        ({"period_start": "2026-11-01"}, "both"),
        ({"period": "2999-01"}, "future"),
    ):
        refused = _post(billing, RUNS, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert words in refused.text, (body, refused.text)
    empty = _post(billing, RUNS, json={"period": "2020-01"})
    assert empty.status_code == 409 and error(empty)["code"] == "nothing_to_invoice"
    assert "approve time first" in error(empty)["message"]
    with billing.kit.api() as api:
        assert api.get(f"{RUNS}/00000000-0000-0000-0000-000000000000").status_code == 404
        unsent = api.post(f"{RUNS}/00000000-0000-0000-0000-000000000000/send")
        assert unsent.status_code == 404


def test_the_run_pages_take_an_admin_from_the_month_to_every_invoice_sent(
    billing: Billing, stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    last = _last_month()
    acme = _client_with_time(billing, "Acme", 90, work_date=last)
    beta = _client_with_time(billing, "Beta", 30, work_date=last)
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        assert 'href="/invoice-runs"' in page.get("/invoices").text  # Invoices → New run
        listing = page.get("/invoice-runs").text
        assert f'value="{last.strftime("%Y-%m")}"' in listing  # last month by default
        bad = page.post("/invoice-runs", {"period": "13/2026"})
        assert bad.status_code == 422 and "YYYY-MM" in bad.text
        assert 'aria-invalid="true"' in bad.text
        review = page.follow(page.post("/invoice-runs", {"period": last.strftime("%Y-%m")}))
        assert review.status_code == 200
        assert f'value="{acme.id}"' in review.text and f'value="{beta.id}"' in review.text
        assert 'data-total="USD">$240.00' in review.text  # 1.5 h + 0.5 h at $120, ticked
        run_url = str(review.url.path)
        made = page.follow(page.post(f"{run_url}/generate", {"client_id": [str(acme.id)]}))
        assert "1 draft made" in made.text
        assert 'data-state="draft"' in made.text and 'data-state="excluded"' in made.text
        sending = page.follow(page.post(f"{run_url}/send"))
        assert 'http-equiv="refresh"' in sending.text  # the bar moves by itself
        assert '<progress id="send-progress" max="1" value="0">' in sending.text
        run_tasks()
        done = page.get(run_url).text
        assert '<progress id="send-progress" max="1" value="1">' in done
        assert 'http-equiv="refresh"' not in done and 'data-state="sent"' in done
        assert 'id="send-all"' not in done  # nothing left to send
        assert misaligned_headers(done) == []
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.add_user("approver").email)
        assert page.get("/invoice-runs").status_code == 403


def test_the_cli_runs_a_month_and_sends_it_with_a_progress_bar(billing: Billing) -> None:
    last = _last_month()
    _client_with_time(billing, "Acme", 60, work_date=last)
    _client_with_time(billing, "Beta", 30, work_date=last)
    runner = CliRunner()
    admin = billing.kit.admin.email
    period = last.strftime("%Y-%m")
    done = runner.invoke(cli.app, ["invoice-run", "--as", admin, "--period", period, "--send"])
    assert done.exit_code == 0, done.output
    lines = [line.split() for line in done.output.splitlines() if line.startswith("  ")]
    assert [(line[0], line[-1]) for line in lines] == [("Acme", "sent"), ("Beta", "sent")]
    with billing.kit.api() as api:
        sent = api.get("/invoices", params={"status": "sent"}).json()["items"]
    assert sorted(i["number"] for i in sent) == sorted(line[1] for line in lines)
    # Again for the same month: nothing is left to bill, said in words.
    again = runner.invoke(cli.app, ["invoice-run", "--as", admin, "--period", period])
    assert again.exit_code == 1 and "approve time first" in again.output
    technician = billing.kit.add_user("technician")
    refused = runner.invoke(cli.app, ["invoice-run", "--as", technician.email])
    assert refused.exit_code == 1 and "not an admin" in refused.output
    garbled = runner.invoke(cli.app, ["invoice-run", "--as", admin, "--period", "nov"])
    assert garbled.exit_code == 1 and "YYYY-MM" in garbled.output


def test_send_all_reports_each_invoice_refused_for_a_canceled_subscription(
    platform: Platform,
    billing: Billing,
    stripe_app: StripeApp,
    run_tasks: Callable[..., list[str]],
) -> None:
    last = _last_month()
    _client_with_time(billing, "Acme", 60, work_date=last)
    _client_with_time(billing, "Beta", 30, work_date=last)
    run = _post(billing, RUNS, json={"period": last.strftime("%Y-%m")}).json()
    run = _post(billing, f"{RUNS}/{run['id']}/generate").json()
    assert run["send_refused"] is None
    cancel_platform_subscription(platform, billing)
    with billing.control() as control:
        before = len(control.get("/_sandbox/requests", params={"limit": 100}).json()["data"])

    assert _post(billing, f"{RUNS}/{run['id']}/send").status_code == 202
    assert run_tasks().count(service.SEND_TASK) == 1
    run = _get(billing, run["id"])
    assert run["status"] == "done"
    assert run["progress"] == {"counts": {"failed": 2}, "to_send": 2, "done": 2, "refused": 2}
    assert "subscription is canceled" in run["send_refused"]
    for item in run["items"]:
        assert item["state"] == "failed" and item["refused"] is True, item
        assert item["error"].startswith("Refused: your Regentra subscription is canceled")
        assert "Settings → Billing" in item["error"]
        assert item["invoice_number"]
    with billing.control() as control:  # the org's Stripe account was not asked
        after = len(control.get("/_sandbox/requests", params={"limit": 100}).json()["data"])
    assert after == before
    with billing.kit.api() as api:
        drafts = api.get("/invoices", params={"status": "draft"}).json()["items"]
    assert len(drafts) == 2  # still drafts, to send once the subscription is back

    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        html = page.get(f"{RUNS}/{run['id']}").text
    assert 'id="send-refused"' in html and 'href="/billing"' in html
    assert html.count('data-status="refused"') == 2 and "2 refused" in html
    assert html.count("Refused: your Regentra subscription is canceled") == 2


@pytest.mark.e2e
def test_a_real_server_sends_a_run_several_drafts_at_once(stripe_server: StripeApp) -> None:
    """`regentra serve` with its in-process queue: the send job sends 4 drafts at a time
    (the default), each once, and the run ends done."""
    billing = connect_billing(stripe_server)
    last = _last_month()
    for n in range(6):
        _client_with_time(billing, f"Client {n}", 30 + n, work_date=last)
    run = _post(billing, RUNS, json={"period": last.strftime("%Y-%m")}).json()
    run = _post(billing, f"{RUNS}/{run['id']}/generate").json()
    assert [i["state"] for i in run["items"]] == ["draft"] * 6
    assert _post(billing, f"{RUNS}/{run['id']}/send").status_code == 202
    deadline = time.monotonic() + 60
    while (run := _get(billing, run["id"]))["status"] != "done":
        assert time.monotonic() < deadline, run["progress"]
        time.sleep(0.2)
    assert run["progress"] == {"counts": {"sent": 6}, "to_send": 6, "done": 6, "refused": 0}
    for item in run["items"]:
        assert_sent_once(billing, item["invoice_id"])


def test_the_dashboard_shows_unbilled_time_and_overdue_invoices_by_age(
    billing: Billing, stripe_app: StripeApp
) -> None:
    acme = _client_with_time(billing, "Acme", 90, 30, work_date=_last_month())
    late = billing.sent_invoice(minutes=60, rate=12000)
    with billing.kit.db.session() as s:  # due 45 days ago
        s.execute(
            update(Invoice)
            .where(Invoice.id == uuid.UUID(late["id"]))
            .values(due_date=date.today() - timedelta(days=45))
        )
        s.commit()
    with billing.kit.api() as api:
        money = api.get("/receivables").json()
    (usd,) = money["currencies"]
    assert (usd["unbilled"], usd["outstanding"], usd["overdue"]) == (24000, 12000, 12000)
    assert usd["aging"] == {"1-30": 0, "31-60": 12000, "61-90": 0, "90+": 0}
    assert money["unbilled_clients"] == [
        {"client_id": str(acme.id), "name": "Acme", "currency": "USD", "minutes": 120,
         "amount": 24000}
    ]  # fmt: skip
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        home = page.get("/").text
    assert 'data-figure="unbilled" data-amount="24000">$240.00' in home
    assert 'data-bucket="31-60" data-amount="12000">31-60: $120.00' in home
    assert f'data-client-id="{acme.id}"' in home and 'id="bill-unbilled"' in home
    # A run bills it: nothing is left unbilled.
    run = _post(billing, RUNS, json={"period": _last_month().strftime("%Y-%m")}).json()
    _post(billing, f"{RUNS}/{run['id']}/generate")
    with billing.kit.api() as api:
        money = api.get("/receivables").json()
    assert money["currencies"][0]["unbilled"] == 0 and money["unbilled_clients"] == []
