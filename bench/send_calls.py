"""Stripe calls per sent invoice do not grow with its length (issue 10, long invoices).

Starts a Stripe sandbox, makes an org connected to its own sandbox account in a fresh SQLite
database, and for each length (10, 100 and 400 lines by default) a new client with that many
approved time entries (four per ticket, so the 400-line invoice needs grouping on Stripe's
side), generates the invoice and sends it through `integrations.stripe.sending.send`, the
app's own flow. The Stripe calls of each send are counted from the sandbox's request log
(`GET /_sandbox/requests`), and the send is checked: sent, Stripe's total equal to ours.

Prints the three figures and exits 1 if the longest invoice takes more than 5 calls more
than the shortest, or a check fails.

    .venv/bin/python bench/send_calls.py [--lengths 10,100,400]
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import uuid
from datetime import date
from pathlib import Path

import stripe
from sandbox import requests_of, start_sandbox

MAX_EXTRA_CALLS = 5
PER_TICKET = 4
BENCH_PASSWORD = "bench-password-long"  # noqa: S105 (a throwaway admin of a temp database)


def prepare(key: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Migrate the fresh database; an org connected with `key`; (org id, admin id)."""
    from regentra.config import get_settings
    from regentra.db import session_scope
    from regentra.migrate import upgrade
    from regentra.orgs import secrets
    from regentra.orgs import service as orgs

    upgrade(get_settings().database_url)
    with session_scope() as session:
        org, admin = orgs.create_org(
            session,
            name="Bench MSP",
            admin_email="bench@example.com",
            admin_password=BENCH_PASSWORD,
            default_hourly_rate=15000,
        )
        secrets.put(session, org_id=org.id, purpose="stripe_secret_key", value=key)
        return org.id, admin.id


def draft_of(org_id: uuid.UUID, admin_id: uuid.UUID, lines: int) -> uuid.UUID:
    """A new client with `lines` approved entries (PER_TICKET a ticket), invoiced."""
    from regentra.audit.service import Actor
    from regentra.clients import service as clients
    from regentra.clients.schemas import ClientCreate
    from regentra.db import session_scope
    from regentra.invoices import service as invoices
    from regentra.invoices.schemas import InvoiceCreate
    from regentra.models import Org, User
    from regentra.orgs import service as orgs
    from regentra.tickets import service as tickets
    from regentra.tickets.schemas import TicketCreate
    from regentra.time_entries import service as entries
    from regentra.time_entries.schemas import TimeEntryCreate

    with session_scope() as s:
        org, admin = s.get(Org, org_id), s.get(User, admin_id)
        assert org is not None and admin is not None
        tech = orgs.add_user(
            s,
            org_id=org.id,
            email=f"tech-{uuid.uuid4().hex[:8]}@example.com",
            password=BENCH_PASSWORD,
            role="technician",
            name="Bench Technician",
            actor=Actor.system(),
        )
        client = clients.create(
            s,
            org=org,
            data=ClientCreate(name=f"Client of {lines}", billing_email="ap@client.example.com"),
            actor=Actor.of(admin),
        )
        ticket = None
        for i in range(lines):
            if i % PER_TICKET == 0:
                data = TicketCreate(client_id=client.id, title=f"Ticket {i // PER_TICKET}")
                ticket = tickets.create(s, org_id=org.id, data=data, actor=Actor.of(admin))
            assert ticket is not None
            entry = entries.create(
                s,
                org=org,
                user=admin,
                data=TimeEntryCreate(
                    ticket_id=ticket.id,
                    work_date=date.today(),
                    minutes=30 + i % 45,
                    description="work",
                    technician_id=tech.id,
                ),
            )
            entries.submit(s, user=tech, entry_id=entry.id)
            entries.approve(s, org=org, user=admin, entry_id=entry.id)
        invoice = invoices.generate(s, org=org, user=admin, data=InvoiceCreate(client_id=client.id))
        return invoice.id


def send(org_id: uuid.UUID, admin_id: uuid.UUID, invoice_id: uuid.UUID) -> tuple[str, int, str]:
    """Send it as the API does; (status, our total, Stripe invoice id)."""
    from regentra.db import session_scope
    from regentra.integrations.stripe import sending
    from regentra.models import Org, User

    with session_scope() as s:
        org, admin = s.get(Org, org_id), s.get(User, admin_id)
        assert org is not None and admin is not None
        sent = sending.send(s, org=org, user=admin, invoice_id=invoice_id)
        return sent.status, sent.total, str(sent.stripe_invoice_id)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--lengths", default="10,100,400", help="lines per invoice, comma-separated"
    )
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
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
            "REGENTRA_STRIPE_MAX_RPS": "0",  # count calls; pacing is not measured here
        }
    )
    proc, url = start_sandbox()
    os.environ["REGENTRA_STRIPE_API_BASE"] = url
    ok = True
    figures: dict[int, int] = {}
    try:
        key = f"sk_test_{uuid.uuid4().hex}"
        sdk = stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)
        org_id, admin_id = prepare(key)
        for lines in lengths:
            invoice_id = draft_of(org_id, admin_id, lines)
            before = len(requests_of(url, key))
            status, total, sid = send(org_id, admin_id, invoice_id)
            made = requests_of(url, key)[before:]
            figures[lines] = len(made)
            si = sdk.v1.invoices.retrieve(sid)
            stripe_lines = sum(
                1 for _ in sdk.v1.invoices.line_items.list(sid, {"limit": 100}).auto_paging_iter()
            )
            good = status == "sent" and si.total == total and all(r["status"] == 200 for r in made)
            ok = ok and good
            ops = ", ".join(f"{r['method']} {r['path'].split('/', 3)[-1]}" for r in made)
            print(
                f"{lines:4d} lines: {len(made):3d} Stripe calls, {stripe_lines} Stripe lines, "
                f"total {total} == Stripe {si.total}: {'ok' if good else 'FAIL'}\n       {ops}"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    extra = figures[max(lengths)] - figures[min(lengths)]
    ok = ok and extra <= MAX_EXTRA_CALLS
    print(
        "calls per sent invoice: "
        + ", ".join(f"{n} lines -> {figures[n]}" for n in lengths)
        + f"; longest minus shortest: {extra} (limit {MAX_EXTRA_CALLS}) -> {'ok' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
