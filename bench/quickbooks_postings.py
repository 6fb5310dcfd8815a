"""Time to post N paid invoices to QuickBooks (mirror + payment + fee) against the floor the
QuickBooks sandbox's rate limit sets for the calls made (issue 12, acceptance 3).

Starts a Stripe sandbox and a QuickBooks sandbox (limits `--per-second` and `--per-minute`,
10 and 500 by default, as Intuit's), makes an org in a fresh SQLite database connected to
both (QuickBooks through intuit-oauth against the sandbox, mapped to its seeded accounts),
sends N invoices for `--clients` clients through the app's own flow, pays them by card in
the Stripe sandbox, lets reconciliation mark them paid, then times `--workers` threads
running `quickbooks.sync_invoice`'s body for every invoice (retrying what is transient, as
the task would). The QuickBooks calls are counted from the sandbox's request log.

Floor: the least time the sandbox's limits allow for that many calls (`per_second` a
second, at most `per_minute` in any minute). Prints calls per invoice, the time, the floor
and their ratio, and checks that every posting is `posted`, the company holds N Payments and
N Purchases, each Purchase equal to its Stripe balance transaction's fee, and every mirrored
invoice's balance is 0. Exits 1 if a check fails or the ratio is above 1.3.

    .venv/bin/python bench/quickbooks_postings.py [--invoices 200] [--clients 20]
        [--workers 4] [--max-rps 8]
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
from sandbox import ROOT, free_port, start_sandbox

GOAL = 1.3
PASSWORD = "bench-password-long"  # noqa: S105 (a throwaway admin of a temp database)


def start_quickbooks(per_second: int, per_minute: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "regentra", "sandbox", "quickbooks", "--port", str(port),
         "--rate-limit", str(per_minute), "--per-second", str(per_second),
         "--concurrent", "10"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/_sandbox/clock", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the QuickBooks sandbox did not start")


def floor_seconds(calls: int, per_second: int, per_minute: int) -> float:
    """The least time `calls` requests take under both limits: bursts of `per_minute` at
    `per_second`, each burst a minute after the previous one's start."""
    if calls <= 0:
        return 0.0
    full = (calls - 1) // per_minute
    rest = calls - full * per_minute
    return full * 60.0 + rest / per_second


def prepare(stripe_key: str) -> tuple[uuid.UUID, uuid.UUID]:
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
            admin_password=PASSWORD,
            default_hourly_rate=15000,
        )
        secrets.put(session, org_id=org.id, purpose="stripe_secret_key", value=stripe_key)
        return org.id, admin.id


def connect_quickbooks(qbo_url: str, org_id: uuid.UUID, admin_id: uuid.UUID) -> str:
    """Connect the org to a new company as a person would (authorize page), then save the
    mapping from the company's seeded accounts; the realm id."""
    from sqlalchemy import update

    from regentra.audit.service import Actor
    from regentra.db import session_scope
    from regentra.integrations.quickbooks import connection, oauth
    from regentra.kit.time import utcnow
    from regentra.models import QuickBooksConnection, User

    made = httpx.post(
        qbo_url + "/_sandbox/companies",
        json={"name": "Bench Books", "home_currency": "USD", "multicurrency": False},
    )
    made.raise_for_status()
    realm = str(made.json()["realm_id"])
    auth = oauth.auth_client()
    url = auth.get_authorization_url(oauth.SCOPES, state_token=uuid.uuid4().hex)
    form = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    answer = httpx.post(
        qbo_url + "/connect/oauth2", data={**form, "realmId": realm, "decision": "connect"}
    )
    query = {k: v[0] for k, v in parse_qs(urlparse(answer.headers["location"]).query).items()}
    with session_scope() as session:
        admin = session.get(User, admin_id)
        assert admin is not None
        connection.complete(
            session,
            org_id=org_id,
            actor=Actor.of(admin),
            code=query["code"],
            realm_id=query["realmId"],
        )
    objects = httpx.get(f"{qbo_url}/_sandbox/companies/{realm}/objects").json()
    accounts = {a["Name"]: str(a["Id"]) for a in objects["Account"]}
    vendor = next(str(v["Id"]) for v in objects["Vendor"] if v["DisplayName"] == "Stripe")
    item = next(str(i["Id"]) for i in objects["Item"] if i["Name"] == "Services")
    with session_scope() as session:
        session.execute(
            update(QuickBooksConnection)
            .where(QuickBooksConnection.org_id == org_id)
            .values(
                deposit_account_id=accounts["Stripe Clearing"],
                other_deposit_account_id=accounts["Undeposited Funds"],
                fee_account_id=accounts["Merchant Fees"],
                fee_paid_from_account_id=accounts["Stripe Clearing"],
                fee_vendor_id=vendor,
                income_item_id=item,
                mapping_saved_at=utcnow(),
                mapping_labels={
                    "fee_paid_from_account": {"name": "Stripe Clearing", "type": "Bank"}
                },
            )
        )
    return realm


def send_invoices(org_id: uuid.UUID, admin_id: uuid.UUID, n: int, clients: int) -> list[str]:
    """N invoices (one approved entry each) for `clients` clients, sent through Stripe."""
    from regentra.audit.service import Actor
    from regentra.clients import service as client_service
    from regentra.clients.schemas import ClientCreate
    from regentra.db import session_scope
    from regentra.integrations.stripe import sending
    from regentra.invoices import service as invoices
    from regentra.invoices.schemas import InvoiceCreate
    from regentra.models import Org, User
    from regentra.orgs import service as orgs
    from regentra.tickets import service as tickets
    from regentra.tickets.schemas import TicketCreate
    from regentra.time_entries import service as entries
    from regentra.time_entries.schemas import TimeEntryCreate

    tickets_of: list[uuid.UUID] = []
    client_ids: list[uuid.UUID] = []
    with session_scope() as s:
        org, admin = s.get(Org, org_id), s.get(User, admin_id)
        assert org is not None and admin is not None
        tech_id = orgs.add_user(
            s,
            org_id=org.id,
            email="tech@example.com",
            password=PASSWORD,
            role="technician",
            name="Bench Technician",
            actor=Actor.system(),
        ).id
        for c in range(clients):
            client = client_service.create(
                s,
                org=org,
                data=ClientCreate(name=f"Client {c:03d}", billing_email="ap@client.example.com"),
                actor=Actor.of(admin),
            )
            ticket = tickets.create(
                s, org_id=org.id, data=TicketCreate(client_id=client.id, title="Support"),
                actor=Actor.of(admin),
            )  # fmt: skip
            client_ids.append(client.id)
            tickets_of.append(ticket.id)
    sent: list[str] = []
    for i in range(n):
        with session_scope() as s:
            org, admin = s.get(Org, org_id), s.get(User, admin_id)
            tech = s.get(User, tech_id)
            assert org is not None and admin is not None and tech is not None
            entry = entries.create(
                s,
                org=org,
                user=admin,
                data=TimeEntryCreate(
                    ticket_id=tickets_of[i % clients],
                    work_date=date.today(),
                    minutes=30 + (i * 7) % 120,
                    description="work",
                    technician_id=tech_id,
                ),
            )
            entries.submit(s, user=tech, entry_id=entry.id)
            entries.approve(s, org=org, user=admin, entry_id=entry.id)
            invoice = invoices.generate(
                s, org=org, user=admin, data=InvoiceCreate(client_id=client_ids[i % clients])
            )
            invoice_id = invoice.id
        with session_scope() as s:
            org, admin = s.get(Org, org_id), s.get(User, admin_id)
            assert org is not None and admin is not None
            done = sending.send(s, org=org, user=admin, invoice_id=invoice_id)
            sent.append(str(done.stripe_invoice_id))
    return sent


def post_all(invoice_ids: list[uuid.UUID], workers: int) -> int:
    """Run every invoice's postings as the task does, retrying transient failures after
    their back-off; returns how many retries it took."""
    from regentra import queue
    from regentra.integrations.quickbooks import posting_run

    retries = 0

    def one(invoice_id: uuid.UUID) -> int:
        tries = 0
        while True:
            try:
                posting_run.sync_invoice(invoice_id)
                return tries
            except queue.Transient as exc:
                tries += 1
                time.sleep(exc.retry_after if exc.retry_after is not None else 1.0)

    with ThreadPoolExecutor(workers) as pool:
        for tries in pool.map(one, invoice_ids):
            retries += tries
    return retries


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--per-second", type=int, default=10)
    parser.add_argument("--per-minute", type=int, default=500)
    parser.add_argument("--max-rps", default="8", help="REGENTRA_QBO_MAX_RPS (client pacing)")
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
            "REGENTRA_STRIPE_MAX_RPS": "0",
            "REGENTRA_BASE_URL": "http://127.0.0.1:8000",
            "REGENTRA_QBO_CLIENT_ID": "bench-" + uuid.uuid4().hex,
            "REGENTRA_QBO_CLIENT_SECRET": uuid.uuid4().hex,
            "REGENTRA_QBO_MAX_RPS": args.max_rps,
        }
    )
    stripe_proc, stripe_url = start_sandbox()
    qbo_proc, qbo_url = start_quickbooks(args.per_second, args.per_minute)
    os.environ["REGENTRA_STRIPE_API_BASE"] = stripe_url
    os.environ["REGENTRA_QBO_ENVIRONMENT"] = qbo_url + "/.well-known/openid_configuration"
    ok = True
    try:
        from regentra.integrations.quickbooks import oauth
        from regentra.integrations.stripe import reconcile

        httpx.post(
            qbo_url + "/_sandbox/apps",
            json={
                "client_id": os.environ["REGENTRA_QBO_CLIENT_ID"],
                "client_secret": os.environ["REGENTRA_QBO_CLIENT_SECRET"],
                "redirect_uris": [oauth.redirect_uri()],
            },
        ).raise_for_status()
        key = f"sk_test_{uuid.uuid4().hex}"
        org_id, admin_id = prepare(key)
        realm = connect_quickbooks(qbo_url, org_id, admin_id)
        print(f"sending {args.invoices} invoices for {args.clients} clients …", flush=True)
        stripe_ids = send_invoices(org_id, admin_id, args.invoices, args.clients)
        control = httpx.Client(
            base_url=stripe_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        for sid in stripe_ids:
            control.post(
                f"/_sandbox/invoices/{sid}/pay", data={"method": "card"}
            ).raise_for_status()
        reconcile.reconcile_org(org_id)
        invoice_ids = paid_invoices(org_id)
        ok = ok and len(invoice_ids) == args.invoices
        log_url = f"{qbo_url}/_sandbox/companies/{realm}/requests"
        before = len(httpx.get(log_url, timeout=60).json()["data"])
        print(f"posting {len(invoice_ids)} paid invoices with {args.workers} workers …", flush=True)
        started = time.perf_counter()
        retries = post_all(invoice_ids, args.workers)
        elapsed = time.perf_counter() - started
        made = httpx.get(log_url, timeout=60).json()["data"][before:]
        calls = len(made)
        throttled = sum(1 for r in made if r["status"] == 429)
        ok = check(org_id, qbo_url, realm, key, stripe_url, args.invoices) and ok
    finally:
        for proc in (stripe_proc, qbo_proc):
            proc.terminate()
            proc.wait(timeout=10)
    floor = floor_seconds(calls, args.per_second, args.per_minute)
    ratio = elapsed / floor if floor else float("inf")
    print(
        f"{args.invoices} invoices: {calls} QuickBooks calls ({calls / args.invoices:.2f} per "
        f"invoice; {throttled} answered 429; {retries} task retries)\n"
        f"time {elapsed:.1f} s, floor {floor:.1f} s at {args.per_second}/s and "
        f"{args.per_minute}/min: ratio {ratio:.2f} (goal <= {GOAL})"
    )
    ok = ok and ratio <= GOAL
    print("ok" if ok else "FAIL")
    return 0 if ok else 1


def paid_invoices(org_id: uuid.UUID) -> list[uuid.UUID]:
    from sqlalchemy import select

    from regentra.db import session_scope
    from regentra.models import Invoice

    with session_scope() as s:
        return list(
            s.scalars(
                select(Invoice.id)
                .where(Invoice.org_id == org_id, Invoice.status == "paid")
                .order_by(Invoice.number)
            )
        )


def check(org_id: uuid.UUID, qbo_url: str, realm: str, key: str, stripe_url: str, n: int) -> bool:
    """Every posting posted; N Payments and N Purchases; each Purchase equal to its Stripe
    balance transaction's fee; every mirrored invoice settled."""
    import stripe
    from sqlalchemy import func, select

    from regentra.db import session_scope
    from regentra.models import QuickBooksPosting

    with session_scope() as s:
        states = dict(
            s.execute(
                select(QuickBooksPosting.state, func.count())
                .where(QuickBooksPosting.org_id == org_id)
                .group_by(QuickBooksPosting.state)
            ).all()
        )
        fees = {
            row.qbo_id: row.details.get("balance_transaction")
            for row in s.scalars(
                select(QuickBooksPosting).where(
                    QuickBooksPosting.org_id == org_id, QuickBooksPosting.kind == "fee"
                )
            )
        }
    objects = httpx.get(f"{qbo_url}/_sandbox/companies/{realm}/objects", timeout=60).json()
    payments, purchases = objects.get("Payment", []), objects.get("Purchase", [])
    invoices = objects.get("Invoice", [])
    sdk = stripe.StripeClient(key, base_addresses={"api": stripe_url}, max_network_retries=0)
    wrong = 0
    for purchase in purchases:
        txn = sdk.v1.balance_transactions.retrieve(str(fees[purchase["Id"]]))
        if Decimal(str(purchase["TotalAmt"])) * 100 != txn.fee:
            wrong += 1
    settled = sum(1 for i in invoices if i["Balance"] == 0)
    good = (
        states == {"posted": 3 * n}
        and len(payments) == n
        and len(purchases) == n
        and wrong == 0
        and settled == len(invoices) == n
    )
    print(
        f"states {states}; {len(payments)} Payments, {len(purchases)} Purchases "
        f"({wrong} not equal to Stripe's fee), {settled}/{len(invoices)} invoices settled: "
        f"{'ok' if good else 'FAIL'}"
    )
    return good


if __name__ == "__main__":
    raise SystemExit(main())
