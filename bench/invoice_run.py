"""A month-end invoice run at scale against the Stripe sandbox with a live key (issue 15,
acceptance 3): N clients with M approved entries each (300 x 30 by default), one run for
last month, its drafts generated and sent by the run's own send job body
(`invoice_runs.service.send_all`, `invoice_run_send_workers` at a time), through the app's
pacing at its live-mode settings (`stripe_max_rps_live`, `stripe_max_rps_per_endpoint`).
The sandbox applies Stripe's live-mode limits to the `sk_live_` key, so a 429 would show.

Floor: the least time Regentra's own configured pacing allows for the calls the send made:
the larger of (all calls ÷ the account rate) and, per endpoint (`METHOD /v1/path/{id}`, as
Stripe counts), (its calls ÷ the endpoint rate). Prints the calls per invoice, the time, the
floor (per account and per endpoint) and their ratio, and checks every invoice is sent once
with Stripe's total equal to ours. Exits 1 if a check fails or the ratio is above 1.3.

    .venv/bin/python bench/invoice_run.py [--clients 300] [--entries 30] [--workers N]
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from sandbox import requests_of, start_sandbox

GOAL = 1.3
BENCH_PASSWORD = "bench-password-long"  # noqa: S105 (a throwaway admin of a temp database)


def prepare(key: str, clients: int, entries: int) -> tuple[uuid.UUID, uuid.UUID]:
    """Migrate the fresh database; an org connected with `key`, `clients` clients with
    `entries` approved entries each, worked last month; (org id, admin id)."""
    from regentra.audit.service import Actor
    from regentra.clients import service as client_service
    from regentra.clients.schemas import ClientCreate
    from regentra.config import get_settings
    from regentra.db import session_scope
    from regentra.migrate import upgrade
    from regentra.orgs import secrets
    from regentra.orgs import service as orgs
    from regentra.tickets import service as tickets
    from regentra.tickets.schemas import TicketCreate
    from regentra.time_entries import service as time_entries
    from regentra.time_entries.schemas import TimeEntryCreate

    upgrade(get_settings().database_url)
    worked = date.today().replace(day=1) - timedelta(days=10)
    with session_scope() as s:
        org, admin = orgs.create_org(
            s,
            name="Bench MSP",
            admin_email="bench@example.com",
            admin_password=BENCH_PASSWORD,
            default_hourly_rate=15000,
        )
        secrets.put(s, org_id=org.id, purpose="stripe_secret_key", value=key)
        tech = orgs.add_user(
            s,
            org_id=org.id,
            email="tech@example.com",
            password=BENCH_PASSWORD,
            role="technician",
            name="Bench Technician",
            actor=Actor.system(),
        )
        for n in range(clients):
            client = client_service.create(
                s,
                org=org,
                data=ClientCreate(name=f"Client {n:04d}", billing_email=f"ap{n}@client.example"),
                actor=Actor.of(admin),
            )
            ticket = tickets.create(
                s,
                org_id=org.id,
                data=TicketCreate(client_id=client.id, title="Monthly work"),
                actor=Actor.of(admin),
            )
            for i in range(entries):
                entry = time_entries.create(
                    s,
                    org=org,
                    user=admin,
                    data=TimeEntryCreate(
                        ticket_id=ticket.id,
                        work_date=worked,
                        minutes=15 + (n + i) % 90,
                        description="work",
                        technician_id=tech.id,
                    ),
                )
                time_entries.submit(s, user=tech, entry_id=entry.id)
                time_entries.approve(s, org=org, user=admin, entry_id=entry.id)
        return org.id, admin.id


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_month(
    org_id: uuid.UUID, admin_id: uuid.UUID, sandbox_pid: int
) -> tuple[uuid.UUID, float, float, float, float]:
    """Make, generate and send the run; (run id, seconds generating, seconds sending, CPU
    seconds this process and the sandbox used while sending). CPU seconds do not depend on
    what else the machine runs: above the floor they mean a process, not the pacing, sets
    the pace."""
    from regentra.db import session_scope
    from regentra.invoice_runs import service as runs
    from regentra.models import Org, User

    with session_scope() as s:
        org, admin = s.get(Org, org_id), s.get(User, admin_id)
        assert org is not None and admin is not None
        start, end = runs.last_month(org)
        run = runs.create(s, org=org, user=admin, period_start=start, period_end=end)
        run_id = run.id
    began = time.monotonic()
    with session_scope() as s:
        org, admin = s.get(Org, org_id), s.get(User, admin_id)
        assert org is not None and admin is not None
        runs.generate(s, org=org, user=admin, run_id=run_id)
    generated = time.monotonic() - began
    with session_scope() as s:
        org, admin = s.get(Org, org_id), s.get(User, admin_id)
        assert org is not None and admin is not None
        runs.request_send(s, org=org, user=admin, run_id=run_id, enqueue=False)
    began, cpu, sandbox_cpu = time.monotonic(), time.process_time(), cpu_seconds(sandbox_pid)
    runs.send_all(session_scope, run_id)
    return (
        run_id,
        generated,
        time.monotonic() - began,
        time.process_time() - cpu,
        cpu_seconds(sandbox_pid) - sandbox_cpu,
    )


def check(run_id: uuid.UUID, key: str, url: str) -> list[str]:
    """Problems: an item not sent, or an invoice whose Stripe total is not ours."""
    import stripe

    from regentra.db import session_scope
    from regentra.models import Invoice, InvoiceRunItem

    sdk = stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)
    listed = {
        i.id: (i.status, i.total)
        for i in sdk.v1.invoices.list({"limit": 100}).auto_paging_iter()  # under the limits
    }
    problems = []
    with session_scope() as s:
        items = s.query(InvoiceRunItem).filter(InvoiceRunItem.run_id == run_id).all()
        for item in items:
            invoice = s.get(Invoice, item.invoice_id) if item.invoice_id else None
            if item.state != "sent" or invoice is None or invoice.stripe_invoice_id is None:
                problems.append(f"{item.client_name}: {item.state} {item.error or ''}")
                continue
            found = listed.get(invoice.stripe_invoice_id)
            if found != ("open", invoice.total):
                problems.append(f"{invoice.number}: Stripe {found}, ours {invoice.total}")
    if len(listed) != len(items):
        problems.append(f"{len(listed)} Stripe invoices for {len(items)} clients")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--entries", type=int, default=30)
    parser.add_argument("--workers", type=int, default=None, help="default: the setting's")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="regentra-bench-"))
    os.environ.update(
        {
            "REGENTRA_VAR_DIR": str(work),
            "REGENTRA_ENV": "development",
            "REGENTRA_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
            "REGENTRA_QUEUE_URL": f"sqlite:///{work / 'queue.db'}",
            "REGENTRA_ENCRYPTION_KEYS": "bench:" + base64.b64encode(os.urandom(32)).decode(),
            "REGENTRA_SESSION_SECRET": "bench-" + "x" * 40,
            "REGENTRA_LOG_LEVEL": "WARNING",
        }
    )
    if args.workers:
        os.environ["REGENTRA_INVOICE_RUN_SEND_WORKERS"] = str(args.workers)
    proc, url = start_sandbox(limited=True)  # Stripe's limits, live mode's for sk_live_
    os.environ["REGENTRA_STRIPE_API_BASE"] = url
    from regentra.config import get_settings
    from regentra.log_setup import configure as configure_logging

    settings = get_settings()
    configure_logging(env=settings.env, level=settings.log_level)  # as `regentra worker`
    account_rate, endpoint_rate = settings.stripe_max_rps_live, settings.stripe_max_rps_per_endpoint
    try:
        key = f"sk_live_{uuid.uuid4().hex}"
        org_id, admin_id = prepare(key, args.clients, args.entries)
        run_id, generating, sending, cpu, sandbox_cpu = run_month(org_id, admin_id, proc.pid)
        made = requests_of(url, key)
        problems = check(run_id, key, url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    from regentra.integrations.stripe.client import endpoint_of

    per_endpoint = Counter(endpoint_of(r["method"], url + r["path"]) for r in made)
    limited = sum(1 for r in made if r["status"] == 429)
    floor_account = len(made) / account_rate
    floor_endpoint = max(n / endpoint_rate for n in per_endpoint.values())
    floor = max(floor_account, floor_endpoint)
    ratio = sending / floor
    ok = not problems and ratio <= GOAL
    print(
        f"{args.clients} clients x {args.entries} entries: drafts in {generating:.1f} s; "
        f"sent in {sending:.1f} s with {settings.invoice_run_send_workers} at a time, using "
        f"{cpu:.1f} CPU s here and {sandbox_cpu:.1f} in the sandbox "
        f"(load average {os.getloadavg()[0]:.1f})\n"
        f"Stripe calls: {len(made)} ({len(made) / args.clients:.2f} per invoice), 429s: "
        f"{limited}\n"
        f"floor: {floor_account:.1f} s per account ({account_rate:g}/s), "
        f"{floor_endpoint:.1f} s per endpoint ({endpoint_rate:g}/s, busiest "
        f"{per_endpoint.most_common(1)[0][0]}: {per_endpoint.most_common(1)[0][1]} calls)\n"
        f"time / floor: {ratio:.2f} (goal <= {GOAL}) -> {'ok' if ok else 'FAIL'}"
    )
    for problem in problems[:20]:
        print("  problem:", problem)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
