"""Stripe webhooks through one `regentra serve` process (issue 5, acceptance 4).

Sets up one org connected to Stripe (test keys and a webhook signing secret saved through
`integrations.stripe.settings.save`, as Settings → Integrations does), and N invoices in
`sent` with their Stripe invoice ids (bulk-inserted: receiving needs no Stripe side), then
starts ONE `regentra serve` process on that database and posts signed `invoice.paid` events
to `POST /api/webhooks/stripe/{token}` from several client threads, each with its own
keep-alive connection. The event body is the Stripe sandbox's own `invoice.paid` event (about
5 KB, pretty-printed as Stripe sends it), captured once at start-up, with the event and
invoice ids replaced; the `Stripe-Signature` header is made as Stripe makes it
(`t=<ts>,v1=<HMAC-SHA256(secret, "<ts>.<body>")>`, the SDK's
`WebhookSignature.generate_signature_header`), just before each post.

Three phases, alternated over a few rounds after a warm-up:

  (a) full processing: a fresh `invoice.paid` event for each of a batch of distinct `sent`
      invoices. Per event: token and signing secret read (no write lock), the secret
      decrypted (cached per process), signature verified by the SDK, JSON parsed, livemode
      checked; then one write transaction: the event INSERTed under its unique (org, event
      id), our invoice moved by the conditional UPDATE sent -> paid, the audit entry, the
      outcome on the event, the connection's `last_webhook_at`, commit, 200. On PostgreSQL
      all of it is one statement in autocommit (`handlers.ingest_paid`).
  (b) duplicates: the same batch delivered again, freshly signed (the path Stripe's retries
      take: verified, the INSERT finds the event stored, `last_webhook_at`, commit).
  (c) the bare-verify floor: the same batch, freshly signed, to a minimal FastAPI endpoint
      that reads the body, verifies the signature with the SDK, parses the JSON and answers
      200, served by ONE uvicorn process with `regentra serve`'s uvicorn settings
      (`bench/webhook_floor.py`); same client, same threads. What the hardware allows.

Prints events/s for each, full / floor, the server CPU time per event (from /proc, so other
load on the machine does not inflate it) and latency percentiles, then checks that every
answer was the expected one and that every invoice is `paid` exactly once: one stored event,
one "invoice.paid" audit entry, `paid_at` and the amount set. Passes when full processing is
at least 0.3 x the floor and its p99 is at most 100 ms (at the default 8 threads); exits 1
otherwise or if a check fails.

    .venv/bin/python bench/webhooks.py [--events 3000] [--rounds 3] [--threads 8]
        [--warmup 200] [--database-url postgresql://user@host:port/db | --postgres]

SQLite in a temporary directory by default. `--database-url postgresql://…` names a server
(and a database to connect to) where the bench creates, and afterwards drops, a database of
its own; `--postgres` starts a throwaway server with tests/support/postgres.py.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import stripe
from sandbox import ROOT, free_port, spawn_healthy, start_sandbox
from webhook_floor import start_floor

GOAL_RATIO = 0.3  # full processing / the bare-verify floor, events/s
GOAL_P99_MS = 100.0  # full processing
AMOUNT = 18_000  # minor units, every invoice
BENCH_PASSWORD = "bench-password-long"  # noqa: S105 (a throwaway admin of a temp database)
ALNUM = string.ascii_letters + string.digits


def stripe_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ALNUM) for _ in range(24))


# ---- the event body: the sandbox's own invoice.paid ---------------------------------------


def capture_event() -> dict[str, Any]:
    """The raw `invoice.paid` event the Stripe sandbox makes when an invoice sent for payment
    is paid by card (its pinned API version; the JSON exactly as the Events API returns it)."""
    proc, url = start_sandbox()
    try:
        key = f"sk_test_{uuid.uuid4().hex}"
        client = stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)
        customer = client.v1.customers.create(
            params={"email": "ap@client.example.com", "name": "Client 00001"}
        )
        invoice = client.v1.invoices.create(
            params={
                "customer": customer.id,
                "collection_method": "send_invoice",
                "days_until_due": 30,
                "metadata": {"regentra_invoice_number": "INV-000001"},
            }
        )
        client.v1.invoice_items.create(
            params={
                "customer": customer.id,
                "invoice": invoice.id,
                "amount": AMOUNT,
                "currency": "usd",
                "description": "2026-04-01 · #1042 Printer on fire · Technician 001 · 1.50 h",
            }
        )
        client.v1.invoices.finalize_invoice(invoice.id)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as control:
            paid = control.post(f"/_sandbox/invoices/{invoice.id}/pay", data={"method": "card"})
            paid.raise_for_status()
            events = control.get("/v1/events", params={"type": "invoice.paid"})
            events.raise_for_status()
        event: dict[str, Any] = events.json()["data"][0]
        assert event["data"]["object"]["id"] == invoice.id
        return event
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Bodies:
    """Event bodies for our invoices: the captured event's text with its event id and
    invoice id replaced (everything else, hosted URL and lines included, kept)."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.text = json.dumps(template, indent=2)  # Stripe sends pretty-printed JSON
        self.event_id = str(template["id"])
        self.invoice_id = str(template["data"]["object"]["id"])

    def body(self, event_id: str, stripe_invoice_id: str) -> bytes:
        text = self.text.replace(self.event_id, event_id).replace(
            self.invoice_id, stripe_invoice_id
        )
        return text.encode()


# ---- where the database lives ------------------------------------------------------------


@contextmanager
def database(work: Path, server_url: str | None) -> Iterator[str]:
    """A fresh database: a SQLite file in `work`, or a database of our own on a PostgreSQL
    server (dropped afterwards)."""
    if server_url is None:
        yield f"sqlite:///{work / 'bench.db'}"
        return
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from regentra.db import normalize_url

    name = f"regentra_bench_webhooks_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(normalize_url(server_url)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# ---- setup: a connected org and its sent invoices ------------------------------------------


@dataclass
class World:
    org_id: uuid.UUID
    token: str
    signing_secret: str
    invoices: list[str]  # Stripe invoice ids of our sent invoices, in number order


def setup(url: str, invoices: int) -> World:
    """Migrate, then (through the services) an org, a client and the org's Stripe keys and
    webhook signing secret; then `invoices` sent invoices, bulk-inserted."""
    from sqlalchemy import insert, update
    from sqlalchemy.orm import Session

    from regentra.audit.service import Actor
    from regentra.clients import service as clients
    from regentra.clients.schemas import ClientCreate
    from regentra.db import make_engine
    from regentra.integrations.stripe import settings as stripe_settings
    from regentra.migrate import upgrade
    from regentra.models import Invoice, Org
    from regentra.orgs import service as orgs

    upgrade(url)
    engine = make_engine(url)
    key = f"sk_test_{uuid.uuid4().hex}"
    signing_secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    with Session(engine) as session:
        org, admin = orgs.create_org(
            session,
            name="Bench MSP",
            admin_email="bench@example.com",
            admin_password=BENCH_PASSWORD,
            default_hourly_rate=12_000,
        )
        client = clients.create(
            session,
            org=org,
            data=ClientCreate(name="Client 00001", billing_email="ap@client.example.com"),
            actor=Actor.of(admin),
        )
        stripe_settings.save(
            session,
            org_id=org.id,
            keys=stripe_settings.StripeKeys(
                publishable_key="pk_test_" + key[8:],
                secret_key=key,
                webhook_signing_secret=signing_secret,
            ),
            actor=Actor.of(admin),
        )
        webhook_url = stripe_settings.status(session, org_id=org.id)["webhook_url"]
        org_id, client_id, currency = org.id, client.id, client.currency
        session.commit()
    now = datetime.now(UTC)
    sent_at = now - timedelta(days=3)
    ids = [stripe_id("in_") for _ in range(invoices)]
    rows = [
        {
            "id": uuid.uuid4(),
            "org_id": org_id,
            "client_id": client_id,
            "number": f"INV-{i + 1:06d}",
            "status": "sent",
            "currency": currency,
            "total": AMOUNT,
            "days_until_due": 30,
            "memo": "",
            "stripe_invoice_id": sid,
            "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_bench/{sid}",
            "due_date": date.today() + timedelta(days=27),
            "sent_at": sent_at,
            "created_at": sent_at - timedelta(minutes=5),
            "updated_at": sent_at,
        }
        for i, sid in enumerate(ids)
    ]
    with Session(engine) as session:
        for start in range(0, len(rows), 2000):
            session.execute(insert(Invoice), rows[start : start + 2000])
        session.execute(
            update(Org).where(Org.id == org_id).values(next_invoice_number=invoices + 1)
        )
        session.commit()
    engine.dispose()
    return World(org_id, webhook_url.rsplit("/", 1)[1], signing_secret, ids)


# ---- the server ------------------------------------------------------------------------


def start_server(env: dict[str, str], work: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log_path = work / "server.log"
    server_env = {
        **env,
        "REGENTRA_BASE_URL": f"http://127.0.0.1:{port}",
        # As in production (JSON log lines; the bench provides the secrets production needs).
        "REGENTRA_ENV": "production",
        # Nothing periodic behind the bench's back (no reconciliation, no overdue sweep).
        "REGENTRA_PERIODIC_JOBS": "false",
        # Receiving never calls Stripe; a dead port makes any call fail fast.
        "REGENTRA_STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
    }
    url = f"http://127.0.0.1:{port}"
    proc = spawn_healthy(
        [sys.executable, "-m", "regentra", "serve", "--port", str(port)],
        env=server_env,
        log_path=log_path,
        url=url,
        name="regentra serve",
        timeout=90,
    )
    return proc, url, log_path


def keep_server_log(work: Path) -> None:
    """The server's log, kept out of the work directory (removed at the end) when a run failed."""
    log_path = work / "server.log"
    if log_path.exists():
        kept = Path(tempfile.gettempdir()) / "regentra-bench-webhooks-server.log"
        shutil.copy(log_path, kept)
        print(f"server log kept in {kept}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def postgres_cpu_seconds() -> float:
    """CPU time so far of every PostgreSQL process on this machine (the bench's server and
    its backends; with SQLite, the database's work is in the server process itself)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(proc.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # gone meanwhile
    return total


# ---- posting ---------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    events: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0  # PostgreSQL's processes (0 on SQLite)
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)

    def add(self, other: Phase) -> None:
        self.events += other.events
        self.seconds += other.seconds
        self.server_cpu += other.server_cpu
        self.database_cpu += other.database_cpu
        self.client_cpu += other.client_cpu
        self.latencies += other.latencies
        for answer, n in other.answers.items():
            self.answers[answer] = self.answers.get(answer, 0) + n

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Poster:
    """Posts deliveries from `threads` threads, each with its own keep-alive connection."""

    def __init__(self, url: str, secret: str, threads: int, server_pid: int) -> None:
        self.url = url
        self.secret = secret
        self.threads = threads
        self.server_pid = server_pid
        self.local = threading.local()
        self.clients: list[httpx.Client] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(threads, initializer=self._connect)

    def _connect(self) -> None:
        client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=1))
        self.local.client = client
        with self.lock:
            self.clients.append(client)

    def _post(self, body: bytes) -> tuple[str, float]:
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), self.secret)
        started = time.perf_counter()
        response = self.local.client.post(
            self.url,
            content=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            return f"{response.status_code} {response.text[:200]}", elapsed
        answer = "duplicate" if response.json().get("duplicate") else "stored"
        return answer, elapsed

    def run(self, name: str, bodies: list[bytes]) -> Phase:
        phase = Phase(name, events=len(bodies))
        cpu_before = cpu_seconds(self.server_pid)
        database_before = postgres_cpu_seconds()
        client_before = time.process_time()
        started = time.perf_counter()
        results = list(self.pool.map(self._post, bodies))
        phase.seconds = time.perf_counter() - started
        phase.server_cpu = cpu_seconds(self.server_pid) - cpu_before
        phase.database_cpu = postgres_cpu_seconds() - database_before
        phase.client_cpu = time.process_time() - client_before
        for answer, elapsed in results:
            phase.answers[answer] = phase.answers.get(answer, 0) + 1
            phase.latencies.append(elapsed)
        return phase

    def close(self) -> None:
        self.pool.shutdown()
        for client in self.clients:
            client.close()


# ---- checking the outcome ---------------------------------------------------------------


def verify(url: str, world: World) -> list[str]:
    """Every invoice paid exactly once: status, paid_at, amount, one stored event handled
    as "paid", one "invoice.paid" audit entry."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from regentra.db import make_engine
    from regentra.models import AuditEvent, Invoice, StripeEvent

    problems: list[str] = []
    engine = make_engine(url)
    with Session(engine) as session:
        invoices = session.execute(
            select(Invoice.id, Invoice.status, Invoice.paid_at, Invoice.amount_paid).where(
                Invoice.org_id == world.org_id
            )
        ).all()
        audits = dict(
            session.execute(
                select(AuditEvent.subject_id, func.count())
                .where(
                    AuditEvent.org_id == world.org_id,
                    AuditEvent.action == "invoice.paid",
                    AuditEvent.subject_type == "invoice",
                )
                .group_by(AuditEvent.subject_id)
            ).all()
        )
        events = session.execute(
            select(StripeEvent.object_id, StripeEvent.outcome, StripeEvent.processed_at).where(
                StripeEvent.org_id == world.org_id
            )
        ).all()
    engine.dispose()
    not_paid = [i for i in invoices if i.status != "paid"]
    if not_paid:
        problems.append(f"{len(not_paid)} of {len(invoices)} invoices are not paid")
    incomplete = [i for i in invoices if i.paid_at is None or i.amount_paid != AMOUNT]
    if incomplete:
        problems.append(f"{len(incomplete)} paid invoices lack paid_at or the amount paid")
    wrong_audit = [i for i in invoices if audits.get(str(i.id), 0) != 1]
    if wrong_audit:
        problems.append(
            f"{len(wrong_audit)} invoices do not have exactly one 'invoice.paid' audit entry "
            f"(e.g. {audits.get(str(wrong_audit[0].id), 0)})"
        )
    if len(audits) != len(invoices) or sum(audits.values()) != len(invoices):
        problems.append(f"{sum(audits.values())} 'invoice.paid' audit entries, not {len(invoices)}")
    by_invoice: dict[str | None, int] = {}
    for event in events:
        by_invoice[event.object_id] = by_invoice.get(event.object_id, 0) + 1
    if len(events) != len(world.invoices) or set(by_invoice) != set(world.invoices):
        problems.append(f"{len(events)} stored events for {len(world.invoices)} invoices")
    if any(n != 1 for n in by_invoice.values()):
        problems.append("some invoice has more than one stored event")
    unhandled = [
        e for e in events if e.processed_at is None or not str(e.outcome).startswith("paid: ")
    ]
    if unhandled:
        problems.append(f"{len(unhandled)} stored events not handled as 'paid: …'")
    return problems


# ---- the run ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="events per phase, all rounds")
    parser.add_argument("--rounds", type=int, default=3, help="(a) then (b), this many times")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client connections")
    parser.add_argument("--warmup", type=int, default=200, help="events of each kind, untimed")
    parser.add_argument("--database-url", help="a PostgreSQL server to create a database on")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL")
    args = parser.parse_args()
    if args.database_url and args.database_url.startswith("sqlite"):
        parser.error("--database-url is for PostgreSQL; SQLite is the default")
    if args.events < args.rounds:
        parser.error("--events must be at least --rounds")

    work = Path(tempfile.mkdtemp(prefix="regentra-bench-"))
    env = {
        **os.environ,
        "REGENTRA_VAR_DIR": str(work),
        "REGENTRA_ENV": "development",
        "REGENTRA_QUEUE_URL": f"sqlite:///{work / 'queue.db'}",
        "REGENTRA_ENCRYPTION_KEYS": "bench:" + base64.b64encode(os.urandom(32)).decode(),
        "REGENTRA_SESSION_SECRET": "bench-" + "x" * 40,
    }
    os.environ.update(env)
    pg = None
    server_url = args.database_url
    try:
        if args.postgres:
            sys.path.insert(0, str(ROOT))
            from tests.support.postgres import start_postgres

            pg = start_postgres()
            server_url = pg.url
        with database(work, server_url) as url:
            env["REGENTRA_DATABASE_URL"] = os.environ["REGENTRA_DATABASE_URL"] = url
            return bench(args, url, env, work)
    except BaseException:
        keep_server_log(work)
        raise
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def bench(args: argparse.Namespace, url: str, env: dict[str, str], work: Path) -> int:
    kind = "postgresql" if url.startswith("postgresql") else "sqlite"
    template = capture_event()
    bodies = Bodies(template)
    started = time.perf_counter()
    world = setup(url, args.warmup + args.events)
    print(
        f"set up ({kind}): 1 org connected (keys + webhook signing secret), "
        f"{len(world.invoices):,} sent invoices, in {time.perf_counter() - started:.1f} s; "
        f"event body {len(bodies.body('evt_x', world.invoices[0])):,} bytes "
        f"(the sandbox's invoice.paid, API version {template.get('api_version')})"
    )
    events = [bodies.body(stripe_id("evt_"), sid) for sid in world.invoices]
    warm, timed = events[: args.warmup], events[args.warmup :]
    proc, server, _ = start_server(env, work)
    floor_proc, floor_url, _ = start_floor(world.signing_secret, work)
    path = f"/api/webhooks/stripe/{world.token}"
    poster = Poster(f"{server}{path}", world.signing_secret, args.threads, proc.pid)
    floor_poster = Poster(f"{floor_url}{path}", world.signing_secret, args.threads, floor_proc.pid)
    full, baseline, floor = Phase("full"), Phase("duplicates"), Phase("floor")
    warmups: list[Phase] = []
    per_round: list[tuple[float, float, float]] = []
    try:
        if warm:
            warmups += [poster.run("warm-up full", warm), poster.run("warm-up duplicate", warm)]
            warmups.append(floor_poster.run("warm-up floor", warm))
        size = -(-len(timed) // args.rounds)
        for start in range(0, len(timed), size):
            batch = timed[start : start + size]
            a = poster.run("full", batch)
            b = poster.run("duplicates", batch)
            c = floor_poster.run("floor", batch)
            for total, one in ((full, a), (baseline, b), (floor, c)):
                total.add(one)
            per_round.append((a.rate, b.rate, c.rate))
    finally:
        poster.close()
        floor_poster.close()
        for server_proc in (proc, floor_proc):
            server_proc.terminate()
            try:
                server_proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server_proc.kill()
    problems: list[str] = []
    expect = {"full": "stored", "duplicates": "duplicate", "floor": "stored"}
    for phase in [full, baseline, floor, *warmups]:
        expected = expect.get(phase.name.removeprefix("warm-up "), "duplicate")
        wrong = {a: n for a, n in phase.answers.items() if a != expected}
        if wrong:
            problems.append(f"{phase.name}: answers other than 200 {expected}: {wrong}")
    problems += verify(url, world)

    ratio = full.rate / floor.rate
    p99 = full.percentile(0.99)
    ok = ratio >= GOAL_RATIO and p99 <= GOAL_P99_MS and not problems
    rounds = f"{args.rounds} rounds of (a), (b), (c), {args.threads} client threads"
    print(f"one `regentra serve` process on {kind}; {len(timed):,} events per phase ({rounds})")
    labels = ("(a) full processing", "(b) duplicates", "(c) bare-verify floor")
    for label, phase in zip(labels, (full, baseline, floor), strict=True):
        database = phase.database_cpu / phase.events * 1000
        print(
            f"{label:<24} {phase.rate:8.1f} events/s  "
            f"(server cpu {phase.server_cpu / phase.events * 1000:5.2f} ms/event, "
            + (f"postgres cpu {database:5.2f} ms/event, " if kind == "postgresql" else "")
            + f"p50 {phase.percentile(0.5):6.1f} ms, p99 {phase.percentile(0.99):6.1f} ms, "
            f"max {max(phase.latencies) * 1000:6.0f} ms; "
            f"client cpu {phase.client_cpu / phase.events * 1000:4.2f} ms/event)"
        )
    if kind == "postgresql":
        print(
            "    (a): verify, then one statement in autocommit: UPDATE sent -> paid, audit "
            "entry, the event stored with its outcome (+ last_webhook_at once a minute)"
        )
        print("    (b): the same events again: verify, the statement finds them stored")
    else:
        print(
            "    (a): verify, then one write: store the event, UPDATE sent -> paid, audit "
            "entry, outcome, last_webhook_at, commit"
        )
        print("    (b): the same events again: verify, the INSERT finds them stored, commit")
    print("    (c): a bare FastAPI endpoint: read the body, verify, parse the JSON, 200")
    print(
        "    per round (a) / (b) / (c) events/s: "
        + ", ".join(f"{a:.0f} / {b:.0f} / {c:.0f}" for a, b, c in per_round)
        + f"; (a)/(c) {', '.join(f'{a / c:.2f}' for a, _, c in per_round)}"
    )
    cpu_ratio = (floor.server_cpu / floor.events) / (full.server_cpu / full.events)
    cores = os.cpu_count() or 1
    busy = (full.server_cpu + full.database_cpu + full.client_cpu) / full.seconds
    print(
        f"    during (a) the server, the database and this client kept {busy:.2f} of the "
        f"machine's {cores} cores busy"
    )
    print(
        f"full / floor: {ratio:.2f} (goal >= {GOAL_RATIO}) -> "
        f"{'ok' if ratio >= GOAL_RATIO else 'FAIL'};  "
        f"full p99: {p99:.1f} ms (goal <= {GOAL_P99_MS:.0f}) -> "
        f"{'ok' if p99 <= GOAL_P99_MS else 'FAIL'}   "
        f"[server cpu per event, floor / full: {cpu_ratio:.2f}]"
    )
    if problems:
        print("verification FAILED:\n  " + "\n  ".join(problems))
        keep_server_log(work)
    else:
        print(
            f"verified: every answer 200 as expected (stored / duplicate); all "
            f"{len(world.invoices):,} invoices paid exactly once (one stored event handled "
            f"'paid', one 'invoice.paid' audit entry, paid_at and amount set)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
