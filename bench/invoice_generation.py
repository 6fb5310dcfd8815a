"""Approved time becomes drafts at scale (issue 5, acceptance 5).

Seeds one org (users, 1,000 clients, 5 tickets each, 100,000 approved, billable, uninvoiced
time entries spread at random over the clients, plus 10,000 entries that must not be billed:
draft, submitted, rejected or non-billable), with bulk inserts, into a fresh database, and
clones it, so that both sides below start from byte-identical data. Then, in the same run:

  (a) a plain SQL baseline doing the same work: per client, in one transaction, take the
      number, INSERT the invoice, UPDATE … SET invoice_id (claim the entries), INSERT INTO
      invoice_lines SELECT … FROM time_entries JOIN tickets JOIN users (amounts computed in
      SQL), UPDATE invoices SET total = (SELECT sum …), INSERT the audit record, and
  (b) the product: `invoices.service.generate(session, org=, user=, data=InvoiceCreate(...))`
      for every client, each in its own `session_scope()` (one commit per invoice, loading the
      org and the user first, as a request does).

Each side runs in a child process of its own, so neither the seeding nor the other side counts
towards its time or memory. Memory is that process's peak resident set size (Linux's VmHWM,
which, unlike tracemalloc, also counts C allocations such as SQLite's page cache): the whole
process, imports included, and how much it grew while generating. Both databases are then
verified: one invoice per client, one line per entry, every billable entry linked to its
client's invoice and nothing else linked, numbers sequential, each total the sum of
`kit.money.amount_for(rate, minutes)`, one audit record per invoice, and the two sides'
totals equal client by client.

Prints both times and the ratio, and exits 1 if (b) takes more than 3x (a), if (b)'s peak RSS
reaches 300 MB, or if a verification fails.

    .venv/bin/python bench/invoice_generation.py [--entries 100000] [--clients 1000] [--runs 1]
        [--database-url postgresql://user@host:port/db | --postgres] [--profile FILE]

SQLite in a temporary directory by default. `--database-url postgresql://…` names a server
(and a database to connect to) where the bench may create and drop its own databases;
`--postgres` starts a throwaway server with tests/support/postgres.py. Smoke run:
`--entries 2000 --clients 20` (so small that fixed costs, such as compiling the statements
once, weigh on the ratio). `--clients 1` puts every entry on one invoice: the memory case.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAX_RATIO = 3.0
MAX_PEAK_MB = 300.0
CURRENCIES = ("USD",) * 8 + ("EUR", "GBP")
RATES = (9500, 12000, 12500, 15000, 17550, 19999, 22000)
SEED_AT = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


# ---- where the databases live -------------------------------------------------------------


class Place:
    """Fresh databases next to each other: SQLite files in a directory, or databases on one
    PostgreSQL server. `clone` copies a seeded database byte for byte (file copy, or
    CREATE DATABASE … TEMPLATE)."""

    def __init__(self, work: Path, server_url: str | None) -> None:
        self.work = work
        self.server_url = server_url
        self.prefix = f"regentra_bench_{uuid.uuid4().hex[:8]}_"
        self.made: list[str] = []

    @property
    def kind(self) -> str:
        return "postgresql" if self.server_url else "sqlite"

    def url(self, name: str) -> str:
        if self.server_url is None:
            return f"sqlite:///{self.work / (name + '.db')}"
        from sqlalchemy.engine import make_url

        from regentra.db import normalize_url

        parsed = make_url(normalize_url(self.server_url)).set(database=self.prefix + name)
        return parsed.render_as_string(hide_password=False)

    def _admin(self, sql: str) -> None:
        from sqlalchemy import create_engine

        from regentra.db import normalize_url

        assert self.server_url is not None
        engine = create_engine(normalize_url(self.server_url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
        engine.dispose()

    def fresh(self, name: str) -> str:
        if self.server_url is not None:
            self._admin(f'CREATE DATABASE "{self.prefix}{name}"')
            self.made.append(self.prefix + name)
        return self.url(name)

    def clone(self, source: str, name: str) -> str:
        if self.server_url is None:
            for suffix in ("", "-wal"):
                src = self.work / f"{source}.db{suffix}"
                if src.exists():
                    shutil.copyfile(src, self.work / f"{name}.db{suffix}")
        else:
            self._admin(f'CREATE DATABASE "{self.prefix}{name}" TEMPLATE "{self.prefix}{source}"')
            self.made.append(self.prefix + name)
        return self.url(name)

    def drop(self, name: str) -> None:
        if self.server_url is None:
            for suffix in ("", "-wal", "-shm"):
                (self.work / f"{name}.db{suffix}").unlink(missing_ok=True)
        elif self.prefix + name in self.made:
            self._admin(f'DROP DATABASE "{self.prefix}{name}" WITH (FORCE)')
            self.made.remove(self.prefix + name)

    def drop_all(self) -> None:
        for name in reversed(self.made):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made.clear()


# ---- seeding (bulk inserts, not through the services) ---------------------------------------


@dataclass
class Seeded:
    org_id: uuid.UUID
    admin_id: uuid.UUID
    clients: int
    entries: int
    others: int


def seed(url: str, *, clients: int, entries: int, others: int, technicians: int) -> Seeded:
    from sqlalchemy import insert

    from regentra.db import make_engine
    from regentra.migrate import upgrade
    from regentra.models import Client, Org, Ticket, TimeEntry, User

    upgrade(url)
    rng = random.Random(20260401)

    def new_uuid() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    at = {"created_at": SEED_AT, "updated_at": SEED_AT}
    org_id = new_uuid()
    users = [
        {
            "id": new_uuid(),
            "org_id": org_id,
            "email": f"user{i:03d}@bench.example",
            # Some technicians have no name: the line shows their email.
            "name": "" if i % 5 == 4 else f"Technician {i:03d}",
            "role": "admin" if i == 0 else "technician",
            "password_hash": "!",  # cannot log in
            "is_active": True,
            **at,
        }
        for i in range(technicians + 1)
    ]
    client_rows = [
        {
            "id": new_uuid(),
            "org_id": org_id,
            "name": f"Client {i:05d}",
            "billing_email": f"billing{i:05d}@client.example",
            "currency": CURRENCIES[i % len(CURRENCIES)],
            "hourly_rate": None,
            "compliance_enabled": False,
            **at,
        }
        for i in range(clients)
    ]
    tickets: list[dict[str, Any]] = []
    tickets_of: list[list[uuid.UUID]] = []
    for i, client in enumerate(client_rows):
        ids = [new_uuid() for _ in range(5)]
        tickets_of.append(ids)
        tickets += [
            {
                "id": ticket_id,
                "org_id": org_id,
                "client_id": client["id"],
                "title": f"#{i * 5 + j} Printer offline on floor {j}, and the VPN drops",
                "status": "open" if j % 2 else "closed",
                **at,
            }
            for j, ticket_id in enumerate(ids)
        ]
    admin_id = users[0]["id"]
    tech_ids = [u["id"] for u in users[1:]]
    first_day = date(2026, 1, 1)

    def entry(i: int, *, status: str, billable: bool) -> dict[str, Any]:
        # Every client gets at least one billable entry; the rest land at random.
        c = i if i < clients else rng.randrange(clients)
        return {
            "id": new_uuid(),
            "org_id": org_id,
            "ticket_id": rng.choice(tickets_of[c]),
            "client_id": client_rows[c]["id"],
            "technician_id": rng.choice(tech_ids),
            "work_date": first_day + timedelta(days=rng.randrange(90)),
            "minutes": rng.randrange(1, 481),
            "description": "" if i % 7 == 0 else f"Entry {i}: patched, rebooted, documented",
            "billable": billable,
            "hourly_rate": rng.choice(RATES),
            "catalog_item_id": None,
            "currency": client_rows[c]["currency"],
            "status": status,
            "submitted_at": None if status == "draft" else SEED_AT,
            "decided_by_id": admin_id if status in ("approved", "rejected") else None,
            "decided_at": SEED_AT if status in ("approved", "rejected") else None,
            "rejection_reason": "not billable work" if status == "rejected" else None,
            "invoice_id": None,
            **at,
        }

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(Org),
            [
                {
                    "id": org_id,
                    "name": "Bench MSP",
                    "slug": "bench-msp",
                    "timezone": "UTC",
                    "default_currency": "USD",
                    "default_hourly_rate": 15000,
                    "allow_self_approval": False,
                    "default_days_until_due": 30,
                    "next_invoice_number": 1,
                    **at,
                }
            ],
        )
        conn.execute(insert(User), users)
        conn.execute(insert(Client), client_rows)
        conn.execute(insert(Ticket), tickets)
        kinds = (("draft", True), ("submitted", True), ("rejected", True), ("approved", False))
        chunk: list[dict[str, Any]] = []
        for i in range(entries + others):
            if i < entries:
                chunk.append(entry(i, status="approved", billable=True))
            else:
                status, billable = kinds[i % len(kinds)]
                chunk.append(entry(i, status=status, billable=billable))
            if len(chunk) == 10_000:
                conn.execute(insert(TimeEntry), chunk)
                chunk = []
        if chunk:
            conn.execute(insert(TimeEntry), chunk)
    if engine.dialect.name == "postgresql":
        # Production has autovacuum's statistics; give both clones the same ones.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()  # SQLite: the last close checkpoints the WAL into the file we copy
    return Seeded(org_id, admin_id, clients, entries, others)


# ---- the two sides, each in a child process -------------------------------------------------


def peak_mb() -> float:
    """This process's peak RSS in MB. Linux's VmHWM belongs to the process's own memory map;
    `getrusage(RUSAGE_SELF).ru_maxrss` would not do in a child process: Linux carries the
    parent's high-water mark over fork and exec into it (a child of a 300 MB parent starts
    at 300 MB), so it is the fallback only."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def side_product(org_id: uuid.UUID, user_id: uuid.UUID, profile: str | None) -> dict[str, Any]:
    from sqlalchemy import select

    from regentra.db import session_scope
    from regentra.invoices.schemas import InvoiceCreate
    from regentra.invoices.service import generate
    from regentra.models import Client, Org, User

    with session_scope() as session:
        client_ids = list(
            session.scalars(select(Client.id).where(Client.org_id == org_id).order_by(Client.name))
        )

    def work() -> None:
        for client_id in client_ids:
            with session_scope() as session:  # one request: its own session, one commit
                org = session.get(Org, org_id)
                user = session.get(User, user_id)
                assert org is not None and user is not None
                generate(session, org=org, user=user, data=InvoiceCreate(client_id=client_id))

    with measured(profile) as figures:
        work()
    return figures


def side_baseline(org_id: uuid.UUID, user_id: uuid.UUID, profile: str | None) -> dict[str, Any]:
    from sqlalchemy import JSON, String, Uuid, bindparam, text
    from sqlalchemy.sql.elements import TextClause

    from regentra.db import get_engine
    from regentra.invoices.service import NUMBER_FORMAT
    from regentra.models.base import UTCDateTime

    engine = get_engine()  # the product's engine: same pragmas, same BEGIN IMMEDIATE
    postgres = engine.dialect.name == "postgresql"
    # A new line id in SQL (the one piece formatted into a statement: one of two constants).
    line_id = "gen_random_uuid()" if postgres else "lower(hex(randomblob(16)))"
    types: dict[str, Any] = {name: Uuid() for name in ("org", "inv", "client", "user", "audit")} | {
        "now": UTCDateTime(),
        "details": JSON(),
    }

    def sql(statement: str) -> TextClause:
        clause = text(statement)
        used = [name for name in types if f":{name}" in statement]
        return clause.bindparams(*(bindparam(name, type_=types[name]) for name in used))

    take_number = sql(
        "UPDATE orgs SET next_invoice_number = next_invoice_number + 1 "
        "WHERE id = :org RETURNING next_invoice_number"
    )
    new_invoice = sql(
        "INSERT INTO invoices (id, org_id, client_id, number, status, currency, total, "
        "days_until_due, memo, created_by_id, created_at, updated_at) "
        "SELECT :inv, :org, c.id, :number, 'draft', c.currency, 0, o.default_days_until_due, "
        "'', :user, :now, :now FROM clients c JOIN orgs o ON o.id = c.org_id "
        "WHERE c.org_id = :org AND c.id = :client"
    )
    claim = sql(
        "UPDATE time_entries SET invoice_id = :inv, updated_at = :now "
        "WHERE org_id = :org AND client_id = :client AND status = 'approved' "
        "AND billable = TRUE AND invoice_id IS NULL AND currency = :currency"
    )
    lines = sql(
        "INSERT INTO invoice_lines (id, org_id, invoice_id, position, kind, "  # noqa: S608
        "description, time_entry_id, work_date, ticket_id, ticket_title, technician_id, "
        "technician_name, minutes, quantity, unit_amount, amount) "
        f"SELECT {line_id}, te.org_id, te.invoice_id, "
        "row_number() OVER (ORDER BY te.work_date, te.id), 'time', te.description, te.id, "
        "te.work_date, te.ticket_id, t.title, te.technician_id, "
        "COALESCE(NULLIF(u.name, ''), u.email), te.minutes, 1, te.hourly_rate, "
        "(CAST(te.hourly_rate AS BIGINT) * te.minutes + 30) / 60 "
        "FROM time_entries te "
        "JOIN tickets t ON t.org_id = te.org_id AND t.id = te.ticket_id "
        "JOIN users u ON u.org_id = te.org_id AND u.id = te.technician_id "
        # The claimed entries, found through the billing index (org, client, status, invoice).
        "WHERE te.org_id = :org AND te.client_id = :client AND te.status = 'approved' "
        "AND te.invoice_id = :inv"
    )
    total = sql(
        # By invoice id alone (unique): with org_id too, SQLite without statistics picks the
        # org_id index and reads every line of the org.
        "UPDATE invoices SET total = (SELECT COALESCE(SUM(amount), 0) FROM invoice_lines "
        "WHERE invoice_id = :inv) WHERE org_id = :org AND id = :inv RETURNING total"
    )
    audit = sql(
        "INSERT INTO audit_events (id, org_id, actor_type, actor_user_id, actor_label, action, "
        "subject_type, subject_id, details, created_at) VALUES (:audit, :org, 'user', :user, "
        ":label, 'invoice.created', 'invoice', :subject, :details, :now)"
    )
    with engine.begin() as conn:
        clients = conn.execute(
            text("SELECT id, currency FROM clients WHERE org_id = :org ORDER BY name")
            .bindparams(bindparam("org", type_=Uuid()))
            .columns(id=Uuid(), currency=String()),
            {"org": org_id},
        ).all()
        label = conn.execute(
            text("SELECT email FROM users WHERE id = :user").bindparams(
                bindparam("user", type_=Uuid())
            ),
            {"user": user_id},
        ).scalar_one()

    def work() -> None:
        for client_id, currency in clients:
            invoice_id = uuid.uuid4()
            now = datetime.now(UTC)
            ids = {"org": org_id, "inv": invoice_id, "client": client_id, "now": now}
            with engine.begin() as conn:  # one transaction per client
                taken = conn.execute(take_number, {"org": org_id}).scalar_one()
                number = NUMBER_FORMAT.format(taken - 1)
                conn.execute(new_invoice, {**ids, "number": number, "user": user_id})
                claimed = conn.execute(claim, {**ids, "currency": currency}).rowcount
                conn.execute(lines, ids)
                amount = conn.execute(total, ids).scalar_one()
                details = {"number": number, "lines": claimed, "total": amount}
                conn.execute(
                    audit,
                    {
                        **ids,
                        "audit": uuid.uuid4(),
                        "user": user_id,
                        "label": label,
                        "subject": str(invoice_id),
                        "details": details,
                    },
                )

    with measured(profile) as figures:
        work()
    return figures


@contextmanager
def measured(profile: str | None) -> Iterator[dict[str, Any]]:
    figures: dict[str, Any] = {"rss_before_mb": peak_mb()}
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu = time.perf_counter(), time.process_time()
    yield figures
    figures["seconds"] = time.perf_counter() - started
    figures["cpu_seconds"] = time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    figures["peak_mb"] = peak_mb()


def run_side(side: str, url: str, seeded: Seeded, env: dict[str, str], profile: str | None) -> Any:
    """Run one side in a fresh interpreter; its figures come back as JSON on stdout."""
    argv = [sys.executable, __file__, "--side", side, "--org-id", str(seeded.org_id)]
    argv += ["--user-id", str(seeded.admin_id)]
    if profile:
        argv += ["--profile", profile]
    done = subprocess.run(
        argv,
        env={**env, "REGENTRA_DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"the {side} side failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- verification ---------------------------------------------------------------------------


def verify(url: str, seeded: Seeded) -> tuple[list[str], dict[uuid.UUID, int]]:
    """Problems found (none: the work is complete and right), and each client's total."""
    from sqlalchemy import func, select

    from regentra.db import make_engine
    from regentra.kit.money import amount_for
    from regentra.models import AuditEvent, Invoice, InvoiceLine, TimeEntry

    problems: list[str] = []

    def expect(what: str, got: object, want: object) -> None:
        if got != want:
            problems.append(f"{what}: {got} (expected {want})")

    engine = make_engine(url)
    with engine.connect() as conn:
        invoices = conn.execute(
            select(Invoice.id, Invoice.client_id, Invoice.number, Invoice.total, Invoice.status)
        ).all()
        expect("invoices", len(invoices), seeded.clients)
        expect("clients invoiced", len({r.client_id for r in invoices}), seeded.clients)
        expect("draft invoices", sum(r.status == "draft" for r in invoices), seeded.clients)
        expect(
            "numbers",
            sorted(r.number for r in invoices),
            [f"INV-{n:06d}" for n in range(1, seeded.clients + 1)],
        )
        client_of = {r.id: r.client_id for r in invoices}
        entries = conn.execute(
            select(
                TimeEntry.id,
                TimeEntry.client_id,
                TimeEntry.invoice_id,
                TimeEntry.hourly_rate,
                TimeEntry.minutes,
                TimeEntry.status,
                TimeEntry.billable,
            )
        ).all()
        billable = [e for e in entries if e.status == "approved" and e.billable]
        expect("billable entries", len(billable), seeded.entries)
        expect("billable entries not linked", sum(e.invoice_id is None for e in billable), 0)
        expect(
            "entries linked to another client's invoice",
            sum(client_of.get(e.invoice_id) != e.client_id for e in billable),
            0,
        )
        expect(
            "entries linked that must not be billed",
            sum(
                e.invoice_id is not None
                for e in entries
                if not (e.status == "approved" and e.billable)
            ),
            0,
        )
        want_total: dict[uuid.UUID, int] = defaultdict(int)
        for e in billable:
            want_total[e.invoice_id] += amount_for(e.hourly_rate, e.minutes)
        expect(
            "invoices whose total is not the sum of amount_for(rate, minutes)",
            sum(r.total != want_total[r.id] for r in invoices),
            0,
        )
        entry_by_id = {e.id: e for e in billable}
        lines = conn.execute(
            select(
                InvoiceLine.invoice_id,
                InvoiceLine.time_entry_id,
                InvoiceLine.position,
                InvoiceLine.kind,
                InvoiceLine.minutes,
                InvoiceLine.unit_amount,
                InvoiceLine.amount,
            )
        ).all()
        expect("lines", len(lines), seeded.entries)
        expect("entries with a line", len({ln.time_entry_id for ln in lines}), seeded.entries)
        wrong = 0
        positions: dict[uuid.UUID, list[int]] = defaultdict(list)
        for ln in lines:
            e = entry_by_id.get(ln.time_entry_id)
            positions[ln.invoice_id].append(ln.position)
            if (
                e is None
                or e.invoice_id != ln.invoice_id
                or ln.kind != "time"
                or ln.minutes != e.minutes
                or ln.unit_amount != e.hourly_rate
                or ln.amount != amount_for(e.hourly_rate, e.minutes)
            ):
                wrong += 1
        expect("lines that do not match their entry", wrong, 0)
        expect(
            "invoices whose positions are not 1..n",
            sum(sorted(p) != list(range(1, len(p) + 1)) for p in positions.values()),
            0,
        )
        audits = conn.execute(
            select(func.count(func.distinct(AuditEvent.subject_id))).where(
                AuditEvent.action == "invoice.created"
            )
        ).scalar_one()
        expect("invoices with an audit record", audits, seeded.clients)
    engine.dispose()
    return problems, {r.client_id: r.total for r in invoices}


# ---- the run --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="billable entries")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--others", type=int, default=None, help="entries not to bill (10%%)")
    parser.add_argument("--technicians", type=int, default=25)
    parser.add_argument("--runs", type=int, default=1, help="runs of (a) and (b); best kept")
    parser.add_argument("--database-url", help="a PostgreSQL server to create databases on")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL")
    parser.add_argument("--profile", help="cProfile the product side into this file")
    parser.add_argument("--side", choices=("product", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--org-id", type=uuid.UUID, help=argparse.SUPPRESS)
    parser.add_argument("--user-id", type=uuid.UUID, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.side is not None:  # a child: one side, figures as JSON on the last line
        side = side_product if args.side == "product" else side_baseline
        print(json.dumps(side(args.org_id, args.user_id, args.profile)))
        return 0

    if args.entries < args.clients:
        parser.error("--entries must be at least --clients (every client gets an invoice)")
    others = args.entries // 10 if args.others is None else args.others
    work = Path(tempfile.mkdtemp(prefix="regentra-bench-"))
    env = {
        **os.environ,
        "REGENTRA_VAR_DIR": str(work),
        "REGENTRA_ENV": "development",
        "REGENTRA_QUEUE_URL": f"sqlite:///{work / 'queue.db'}",
        "REGENTRA_ENCRYPTION_KEYS": "bench:" + base64.b64encode(os.urandom(32)).decode(),
        "REGENTRA_SESSION_SECRET": "bench-" + "x" * 40,
        "REGENTRA_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    pg = None
    server_url = args.database_url
    if server_url and server_url.startswith("sqlite"):
        parser.error("--database-url is for PostgreSQL; SQLite is the default")
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from tests.support.postgres import start_postgres

        pg = start_postgres()
        server_url = pg.url
    place = Place(work, server_url)
    try:
        return bench(args, place, env, others)
    finally:
        place.drop_all()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def bench(args: argparse.Namespace, place: Place, env: dict[str, str], others: int) -> int:
    started = time.perf_counter()
    seeded = seed(
        place.fresh("seed"),
        clients=args.clients,
        entries=args.entries,
        others=others,
        technicians=args.technicians,
    )
    print(
        f"seeded ({place.kind}) 1 org, {args.technicians + 1} users, {args.clients:,} clients, "
        f"{args.clients * 5:,} tickets, {args.entries:,} approved billable entries and "
        f"{others:,} not to bill in {time.perf_counter() - started:.1f} s"
    )
    baselines: list[dict[str, Any]] = []
    products: list[dict[str, Any]] = []
    problems: list[str] = []
    for run in range(args.runs):
        # Baseline first, then the product, each on its own clone of the seeded database.
        for side, into in (("baseline", baselines), ("product", products)):
            url = place.clone("seed", f"{side}{run}")
            into.append(
                run_side(side, url, seeded, env, args.profile if side == "product" else None)
            )
            found, totals = verify(url, seeded)
            place.drop(f"{side}{run}")
            problems += [f"({side}, run {run + 1}) {p}" for p in found]
            into[-1]["totals"] = totals
        if baselines[-1]["totals"] != products[-1]["totals"]:
            problems.append(f"(run {run + 1}) the two sides' totals differ")
    base = min(baselines, key=lambda f: f["seconds"])
    prod = min(products, key=lambda f: f["seconds"])
    peak = max(f["peak_mb"] for f in products)
    grew = max(f["peak_mb"] - f["rss_before_mb"] for f in products)
    ratio = prod["seconds"] / base["seconds"]
    runs = f"best of {args.runs}" if args.runs > 1 else "1 run"
    n = f"{args.clients:,} invoices, {args.entries:,} lines"
    print(
        f"(a) plain SQL aggregate-and-insert, a transaction per client ({runs}; {n}): "
        f"{base['seconds']:7.2f} s  (cpu {base['cpu_seconds']:.2f} s, "
        f"peak RSS {base['peak_mb']:.0f} MB)"
    )
    print(
        f"(b) invoices.service.generate, a commit per invoice ({runs}; {n}): "
        f"{prod['seconds']:7.2f} s  (cpu {prod['cpu_seconds']:.2f} s)"
    )
    ratio_ok = ratio <= MAX_RATIO
    print(f"ratio (b)/(a): {ratio:.2f}  (limit {MAX_RATIO})  -> {'ok' if ratio_ok else 'FAIL'}")
    memory_ok = peak < MAX_PEAK_MB
    print(
        f"peak RSS of (b)'s process: {peak:.0f} MB, imports included; it grew {grew:.0f} MB "
        f"while generating (limit {MAX_PEAK_MB:.0f} MB)  -> {'ok' if memory_ok else 'FAIL'}"
    )
    if problems:
        print("verification FAILED:\n  " + "\n  ".join(problems))
    else:
        print(
            f"verified both sides: {n}, every billable entry linked to its client's invoice "
            "and nothing else, totals = sum of amount_for(rate, minutes), equal client by "
            "client, numbers sequential, one audit record per invoice"
        )
    return 0 if ratio_ok and memory_ok and not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
