"""Reconciliation economy: Stripe calls used vs. open invoices (issue 5, acceptance 3).

Starts a Stripe sandbox (rate limit off) and sets up one org connected to its own sandbox
account (keys saved through `integrations.stripe.settings.save`), with N open invoices: each
one created in the sandbox as Stripe's invoice for it (invoice item + invoice with
`collection_method=send_invoice`, finalized, so `open` in Stripe; straight through the SDK
from several threads, which is much faster than the product's send and gives Stripe the same
state), and our row for it bulk-inserted in `sent` with that Stripe invoice id. The org never
added a webhook endpoint in that account, so the payments below reach us by no webhook: they
are lost, as a dropped delivery would be.

Then K of the invoices (chosen at random) are paid by card in the sandbox
(`POST /_sandbox/invoices/{id}/pay`: Stripe makes `invoice.paid` events and marks them paid),
and reconciliation runs once for the org (`reconcile.reconcile_org`, what
`regentra reconcile --org` and `POST /api/v1/integrations/stripe/reconcile` call), with the
product's default Stripe pacing for test keys. The Stripe calls it used are counted in the
sandbox's request log for that account (`GET /_sandbox/requests`, every API request it
received after a marker taken just before the run, network retries included), beside the
product's own counter (`Report.stripe_calls`).

Scenarios, each a run on the same org:

  1. first run (no checkpoint yet), N open, K paid with the webhook lost: goal <= 20 calls,
     and exactly those K invoices became `paid` here, each with one "invoice.paid" audit entry
     "payment found by reconciliation", every other invoice still `sent`;
  2. a second run right after (from the checkpoint the first one saved), nothing new paid:
     expected to use very few calls and change nothing;
  3. after a gap longer than Stripe keeps events (our invoices and the checkpoint moved 40
     days back in our database), K more paid: the run reads invoice lists instead of events;
     the same goal and checks apply.

Exits 1 if a goal or a check fails.

    .venv/bin/python bench/reconcile.py [--invoices 1000] [--paid 10] [--threads 8]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import re
import secrets
import shutil
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import stripe
from sandbox import start_sandbox

GOAL_CALLS = 20
AMOUNT = 18_000  # minor units, every invoice
CUSTOMERS = 50
BENCH_PASSWORD = "bench-password-long"  # noqa: S105 (a throwaway admin of a temp database)
GAP_DAYS = 40
OBJECT_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]{10,}$")


@dataclass
class World:
    org_id: uuid.UUID
    key: str
    numbers: dict[str, str]  # Stripe invoice id -> our number


# ---- setup --------------------------------------------------------------------------------


def connect_org(key: str) -> uuid.UUID:
    """Migrate; an org, a client and its Stripe keys, through the services."""
    from regentra.audit.service import Actor
    from regentra.clients import service as clients
    from regentra.clients.schemas import ClientCreate
    from regentra.config import get_settings
    from regentra.db import session_scope
    from regentra.integrations.stripe import settings as stripe_settings
    from regentra.migrate import upgrade
    from regentra.orgs import service as orgs

    upgrade(get_settings().database_url)
    with session_scope() as session:
        org, admin = orgs.create_org(
            session,
            name="Bench MSP",
            admin_email="bench@example.com",
            admin_password=BENCH_PASSWORD,
            default_hourly_rate=12_000,
        )
        clients.create(
            session,
            org=org,
            data=ClientCreate(name="Client 00001", billing_email="ap@client.example.com"),
            actor=Actor.of(admin),
        )
        stripe_settings.save(
            session,
            org_id=org.id,
            keys=stripe_settings.StripeKeys(publishable_key="pk_test_" + key[8:], secret_key=key),
            actor=Actor.of(admin),
        )
        return org.id


def create_in_stripe(
    client: stripe.StripeClient, org_id: uuid.UUID, n: int, threads: int
) -> list[str]:
    """N open invoices in the account (send_invoice, finalized), over `CUSTOMERS` customers;
    their Stripe ids, in our numbering order."""
    customers = [
        client.v1.customers.create(
            params={"email": f"ap{i:03d}@client.example.com", "name": f"Client {i + 1:05d}"}
        ).id
        for i in range(min(CUSTOMERS, n))
    ]

    def make(i: int) -> str:
        customer = customers[i % len(customers)]
        number = f"INV-{i + 1:06d}"
        invoice = client.v1.invoices.create(
            params={
                "customer": customer,
                "collection_method": "send_invoice",
                "days_until_due": 30,
                "metadata": {"regentra_org_id": str(org_id), "regentra_invoice_number": number},
            }
        )
        assert invoice.id is not None
        client.v1.invoice_items.create(
            params={
                "customer": customer,
                "invoice": invoice.id,
                "amount": AMOUNT,
                "currency": "usd",
                "description": f"{number}: managed services, 1.50 h",
            }
        )
        finalized = client.v1.invoices.finalize_invoice(invoice.id)
        assert finalized.status == "open", finalized.status
        return invoice.id

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(make, range(n)))


def insert_ours(org_id: uuid.UUID, stripe_ids: list[str], created: datetime) -> dict[str, str]:
    """Our rows: `sent`, with the Stripe ids; created before their Stripe invoices (a draft
    is ours before it is Stripe's)."""
    from sqlalchemy import insert, select, update

    from regentra.db import session_scope
    from regentra.models import Client, Invoice, Org

    sent_at = datetime.now(UTC)
    numbers = {sid: f"INV-{i + 1:06d}" for i, sid in enumerate(stripe_ids)}
    with session_scope() as session:
        client_id = session.scalars(select(Client.id).where(Client.org_id == org_id)).one()
        rows = [
            {
                "id": uuid.uuid4(),
                "org_id": org_id,
                "client_id": client_id,
                "number": number,
                "status": "sent",
                "currency": "USD",
                "total": AMOUNT,
                "days_until_due": 30,
                "memo": "",
                "stripe_invoice_id": sid,
                "due_date": date.today() + timedelta(days=30),
                "sent_at": sent_at,
                "created_at": created,
                "updated_at": sent_at,
            }
            for sid, number in numbers.items()
        ]
        for start in range(0, len(rows), 2000):
            session.execute(insert(Invoice), rows[start : start + 2000])
        session.execute(
            update(Org).where(Org.id == org_id).values(next_invoice_number=len(rows) + 1)
        )
    return numbers


# ---- counting what reached Stripe ------------------------------------------------------------


class RequestLog:
    """The account's API requests as the sandbox logged them (control requests excluded)."""

    def __init__(self, control: httpx.Client) -> None:
        self.control = control

    def _entries(self, limit: int) -> list[dict[str, Any]]:
        response = self.control.get("/_sandbox/requests", params={"limit": limit})
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def marker(self) -> str | None:
        newest = self._entries(1)
        return newest[-1]["request_id"] if newest else None

    def since(self, marker: str | None) -> list[dict[str, Any]]:
        entries = self._entries(10_000)
        ids = [e["request_id"] for e in entries]
        if marker is None:
            return entries
        if marker not in ids:
            raise SystemExit("over 10,000 requests since the marker: cannot count them")
        return entries[ids.index(marker) + 1 :]


def describe(requests: list[dict[str, Any]]) -> str:
    counted = Counter(f"{r['method']} {shape(r['path'])}" for r in requests)
    return ", ".join(f"{n} x {what}" for what, n in counted.most_common()) or "none"


def shape(path: str) -> str:
    """/v1/invoices/in_abc… -> /v1/invoices/{id}"""
    return "/".join("{id}" if OBJECT_ID.match(part) else part for part in path.split("/"))


# ---- one scenario ---------------------------------------------------------------------------


@dataclass
class Outcome:
    title: str
    open_before: int
    report: Any
    sandbox_calls: int
    requests: list[dict[str, Any]]
    seconds: float
    problems: list[str]


MOVEMENT_LISTS = ("/v1/refunds", "/v1/disputes", "/v1/payouts")


def run(title: str, world: World, log: RequestLog, expect_paid: set[str]) -> Outcome:
    from regentra.integrations.stripe.reconcile import reconcile_org

    before = states(world.org_id)
    open_before = sum(1 for status, _audits in before.values() if status in ("sent", "overdue"))
    marker = log.marker()
    started = time.perf_counter()
    report = reconcile_org(world.org_id)
    seconds = time.perf_counter() - started
    # The run also reads one page each of refunds, disputes and payouts (money after payment,
    # not the open invoices this bench is about): left out of the count.
    requests = [r for r in log.since(marker) if r["path"] not in MOVEMENT_LISTS]
    after = states(world.org_id)
    problems: list[str] = []
    if not report.ok:
        problems.append(f"the run failed: {report.message}")
    moved = {sid for sid in after if before[sid][0] != after[sid][0]}
    if moved != expect_paid:
        problems.append(
            f"{len(moved)} invoices changed status, expected exactly the {len(expect_paid)} "
            f"paid in Stripe ({len(moved - expect_paid)} unexpected, "
            f"{len(expect_paid - moved)} missed)"
        )
    for sid in expect_paid:
        status, audits = after[sid]
        if status != "paid" or audits != ["payment found by reconciliation"]:
            problems.append(f"{world.numbers[sid]}: {status}, paid audit entries {audits}")
            break
    unchanged = [sid for sid in after if sid not in expect_paid and after[sid] != before[sid]]
    if unchanged:
        problems.append(f"{len(unchanged)} other invoices changed")
    reported = set(report.paid)
    if reported != {world.numbers[sid] for sid in expect_paid}:
        problems.append(f"the report names {len(reported)} paid invoices")
    if report.stripe_calls != len(requests):
        problems.append(
            f"the product counted {report.stripe_calls} calls, the sandbox logged {len(requests)}"
        )
    return Outcome(title, open_before, report, len(requests), requests, seconds, problems)


def states(org_id: uuid.UUID) -> dict[str, tuple[str, list[str]]]:
    """Stripe invoice id -> (our status, messages of its "invoice.paid" audit entries)."""
    from sqlalchemy import select

    from regentra.db import session_scope
    from regentra.models import AuditEvent, Invoice

    with session_scope() as session:
        rows = session.execute(
            select(Invoice.id, Invoice.stripe_invoice_id, Invoice.status).where(
                Invoice.org_id == org_id
            )
        ).all()
        audits: dict[str, list[str]] = {}
        for subject, details in session.execute(
            select(AuditEvent.subject_id, AuditEvent.details).where(
                AuditEvent.org_id == org_id, AuditEvent.action == "invoice.paid"
            )
        ):
            audits.setdefault(str(subject), []).append(str(details.get("message")))
    return {str(sid): (status, audits.get(str(i), [])) for i, sid, status in rows}


def backdate(org_id: uuid.UUID, days: int) -> None:
    """As if the open invoices were sent `days` ago and reconciliation last ran then."""
    from sqlalchemy import select, update

    from regentra.db import session_scope
    from regentra.models import Invoice, StripeConnection

    shift = timedelta(days=days)
    with session_scope() as session:
        rows = session.execute(
            select(Invoice.id, Invoice.created_at, Invoice.sent_at).where(Invoice.org_id == org_id)
        ).all()
        session.execute(
            update(Invoice),
            [
                {"id": i, "created_at": created - shift, "sent_at": sent - shift}
                for i, created, sent in rows
            ],
        )
        session.execute(
            update(StripeConnection)
            .where(StripeConnection.org_id == org_id)
            .values(reconcile_checkpoint=int(time.time()) - days * 86_400)
        )


def pay(control: httpx.Client, stripe_ids: list[str]) -> None:
    for sid in stripe_ids:
        response = control.post(f"/_sandbox/invoices/{sid}/pay", data={"method": "card"})
        response.raise_for_status()
        assert response.json()["status"] == "paid"


# ---- the run --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=1000, help="open invoices")
    parser.add_argument("--paid", type=int, default=10, help="paid in Stripe, webhook lost")
    parser.add_argument("--threads", type=int, default=8, help="threads creating invoices")
    args = parser.parse_args()
    if not 0 < 2 * args.paid <= args.invoices:
        parser.error("--paid must be at least 1 and at most half of --invoices")
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
    from regentra.log_setup import configure

    configure(env="development", level="WARNING")
    proc, url = start_sandbox()
    os.environ["REGENTRA_STRIPE_API_BASE"] = url
    try:
        return bench(args, url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def bench(args: argparse.Namespace, url: str) -> int:
    key = f"sk_test_{uuid.uuid4().hex}"
    sdk = stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)
    control = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    log = RequestLog(control)

    started = time.perf_counter()
    created = datetime.now(UTC) - timedelta(seconds=1)
    org_id = connect_org(key)
    stripe_ids = create_in_stripe(sdk, org_id, args.invoices, args.threads)
    numbers = insert_ours(org_id, stripe_ids, created)
    world = World(org_id, key, numbers)
    open_in_stripe = sum(
        1 for _ in sdk.v1.invoices.list(params={"status": "open", "limit": 100}).auto_paging_iter()
    )
    webhooks = control.get("/_sandbox/webhooks").json()["data"]
    print(
        f"set up: 1 org connected, {len(stripe_ids):,} invoices `sent` here and `open` in its "
        f"sandbox account ({open_in_stripe:,} open there), {len(webhooks)} webhook endpoints "
        f"there, in {time.perf_counter() - started:.1f} s"
    )
    rng = random.Random(secrets.randbits(32))
    chosen = rng.sample(stripe_ids, 2 * args.paid)
    first, later = set(chosen[: args.paid]), set(chosen[args.paid :])
    pay(control, sorted(first))
    print(f"paid {len(first)} of them by card in Stripe; no webhook reached us (no endpoint)")

    outcomes = [run("1. first run, webhooks lost", world, log, first)]
    outcomes.append(run("2. second run right after (checkpoint)", world, log, set()))
    backdate(org_id, GAP_DAYS)
    pay(control, sorted(later))
    outcomes.append(
        run(f"3. after a {GAP_DAYS}-day gap, {len(later)} more paid (lists)", world, log, later)
    )

    ok = True
    for outcome in outcomes:
        goal = "" if outcome.title.startswith("2.") else f" (goal <= {GOAL_CALLS})"
        within = outcome.sandbox_calls <= GOAL_CALLS
        verdict = "ok" if within and not outcome.problems else "FAIL"
        ok = ok and verdict == "ok"
        calls = f"{outcome.sandbox_calls} Stripe call{'' if outcome.sandbox_calls == 1 else 's'}"
        print(
            f"{outcome.title}: {calls} for {outcome.open_before:,} open invoices{goal} -> {verdict}"
        )
        print(
            f"    sandbox log: {describe(outcome.requests)}; product's count "
            f"{outcome.report.stripe_calls}; {len(outcome.report.paid)} became paid; "
            f"{outcome.seconds * 1000:.0f} ms"
        )
        print(f"    report: {outcome.report.message}")
        for problem in outcome.problems:
            print(f"    FAILED: {problem}")
    control.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
