"""The migrations build exactly the models' schema, on both databases, and the audit log
cannot be rewritten."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError, IntegrityError

from regentra.db import make_engine
from regentra.migrate import alembic_config, upgrade
from regentra.models import AuditEvent, Base

pytestmark = [pytest.mark.e2e]


def _old_database(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any, revision: str
) -> str:
    """The URL of a new database on `backend`, migrated up to `revision` only."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"regentra_mig_{uuid.uuid4().hex[:8]}"
        )
    upgrade(url, revision)
    return url


@contextmanager
def _engine(url: str) -> Iterator[sa.Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _new_id(backend: str) -> str:
    # Reflected tables: SQLite stores a UUID as 32 hex characters, PostgreSQL as uuid.
    return uuid.uuid4().hex if backend == "sqlite" else str(uuid.uuid4())


def _ids(backend: str, *names: str) -> dict[str, str]:
    return {name: _new_id(backend) for name in names}


def _now(backend: str) -> Any:
    return sa.func.now() if backend == "postgres" else sa.text("CURRENT_TIMESTAMP")


def _insert(conn: sa.Connection, backend: str, table: str, **values: Any) -> None:
    """Insert a row into the reflected `table`, stamping created_at/updated_at if it has them."""
    t = sa.Table(table, sa.MetaData(), autoload_with=conn)
    row = dict(values)
    for column in ("created_at", "updated_at"):
        if column in t.c:
            row[column] = _now(backend)
    conn.execute(sa.insert(t).values(**row))


def _assert_models_match(conn: sa.Connection) -> None:
    diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff


def test_models_match_migrations(database: Any) -> None:
    engine = database.sessions.kw["bind"]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_audit_log_is_append_only(db: Any, make_org: Any) -> None:
    kit = make_org()
    with db.session() as s:
        event = s.query(AuditEvent).filter(AuditEvent.org_id == kit.org.id).first()
        assert event is not None
        event_id: uuid.UUID = event.id
    for stmt in (
        update(AuditEvent).where(AuditEvent.id == event_id).values(action="forged"),
        delete(AuditEvent).where(AuditEvent.id == event_id),
    ):
        with db.session() as s, pytest.raises(DatabaseError, match="append-only"):
            s.execute(stmt)
            s.commit()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0004_upgrades_a_database_holding_time_and_stripe_settings(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0004 (invoices) over a 0003 database with an org, a client, approved time and
    a Stripe connection: everything survives, orgs get 30-day terms and number 1."""
    url = _old_database(backend, request, tmp_path, "0003")
    ids = _ids(backend, "org", "user", "client", "ticket", "entry", "conn")
    with _engine(url) as engine, engine.begin() as conn:
        _insert(
            conn,
            backend,
            "orgs",
            id=ids["org"],
            name="Old MSP",
            slug="old-msp",
            timezone="UTC",
            default_currency="USD",
            default_hourly_rate=10000,
            allow_self_approval=False,
        )
        _insert(
            conn,
            backend,
            "users",
            id=ids["user"],
            org_id=ids["org"],
            email="tech@old.example",
            name="Tech",
            role="technician",
            password_hash="x",
            is_active=True,
        )
        _insert(
            conn,
            backend,
            "clients",
            id=ids["client"],
            org_id=ids["org"],
            name="Client",
            billing_email="ap@client.example",
            currency="USD",
            hourly_rate=12000,
            compliance_enabled=False,
        )
        _insert(
            conn,
            backend,
            "tickets",
            id=ids["ticket"],
            org_id=ids["org"],
            client_id=ids["client"],
            title="Old ticket",
            status="open",
        )
        _insert(
            conn,
            backend,
            "time_entries",
            id=ids["entry"],
            org_id=ids["org"],
            ticket_id=ids["ticket"],
            client_id=ids["client"],
            technician_id=ids["user"],
            work_date=sa.func.current_date(),
            minutes=60,
            description="work",
            billable=True,
            hourly_rate=12000,
            currency="USD",
            status="approved",
        )
        _insert(
            conn,
            backend,
            "stripe_connections",
            id=ids["conn"],
            org_id=ids["org"],
            webhook_token_hash="a" * 64,
            mode="test",
        )

    upgrade(url)

    with _engine(url) as engine, engine.connect() as conn:
        org = conn.execute(
            sa.text("SELECT default_days_until_due, next_invoice_number FROM orgs")
        ).one()
        assert tuple(org) == (30, 1)
        entry = conn.execute(sa.text("SELECT minutes, status, invoice_id FROM time_entries")).one()
        assert tuple(entry) == (60, "approved", None)
        assert conn.execute(sa.text("SELECT stripe_customer_id FROM clients")).scalar() is None
        assert conn.execute(sa.text("SELECT mode FROM stripe_connections")).scalar() == "test"
        assert conn.execute(sa.text("SELECT count(*) FROM invoices")).scalar() == 0
        _assert_models_match(conn)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0008_upgrades_a_database_holding_sent_invoices(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0008 (the decline reason of an invoice) over a 0004 database with an org, a
    client and a sent invoice: the invoice survives, with no payment failure noted."""
    url = _old_database(backend, request, tmp_path, "0004")
    ids = _ids(backend, "org", "client", "invoice")
    with _engine(url) as engine, engine.begin() as conn:
        _insert(
            conn,
            backend,
            "orgs",
            id=ids["org"],
            name="Old MSP",
            slug="old-msp",
            timezone="UTC",
            default_currency="USD",
            default_hourly_rate=10000,
            allow_self_approval=False,
            default_days_until_due=30,
            next_invoice_number=2,
        )
        _insert(
            conn,
            backend,
            "clients",
            id=ids["client"],
            org_id=ids["org"],
            name="Client",
            billing_email="ap@client.example",
            currency="USD",
            hourly_rate=12000,
            compliance_enabled=False,
        )
        _insert(
            conn,
            backend,
            "invoices",
            id=ids["invoice"],
            org_id=ids["org"],
            client_id=ids["client"],
            number="INV-000001",
            status="sent",
            currency="USD",
            total=12000,
            days_until_due=30,
            memo="",
            stripe_invoice_id="in_old",
            sent_at=_now(backend),
        )

    upgrade(url)

    with _engine(url) as engine, engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT number, status, stripe_invoice_id, payment_failure, payment_failed_at "
                "FROM invoices"
            )
        ).one()
        assert tuple(row) == ("INV-000001", "sent", "in_old", None, None)
        _assert_models_match(conn)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0007_upgrades_a_database_holding_catalog_rows(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0007 (catalog prices) over a 0004 database with Stripe and manual catalog
    items and a time entry at a catalog rate: every row survives, per unit, its currency now
    in its key (the same price in another currency is a new row), synced prices get their
    whole amount as the exact decimal."""
    url = _old_database(backend, request, tmp_path, "0004")
    ids = _ids(backend, "org", "price", "bare", "manual", "new")
    item = {"org_id": ids["org"], "description": None, "active": True}
    with _engine(url) as engine, engine.begin() as conn:
        _insert(
            conn,
            backend,
            "orgs",
            id=ids["org"],
            name="Old MSP",
            slug="old-msp",
            timezone="UTC",
            default_currency="USD",
            default_hourly_rate=10000,
            allow_self_approval=False,
            default_days_until_due=30,
            next_invoice_number=1,
        )
        _insert(
            conn,
            backend,
            "catalog_items",
            id=ids["price"],
            name="Managed endpoint",
            unit_amount=1500,
            currency="USD",
            source="stripe",
            stripe_product_id="prod_1",
            stripe_price_id="price_1",
            **item,
        )
        _insert(
            conn,
            backend,
            "catalog_items",
            id=ids["bare"],
            name="Consulting",
            source="stripe",
            stripe_product_id="prod_2",
            **item,
        )
        _insert(
            conn,
            backend,
            "catalog_items",
            id=ids["manual"],
            name="Onsite visit",
            unit_amount=15000,
            currency="USD",
            source="manual",
            **item,
        )

    upgrade(url)

    with _engine(url) as engine:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT name, unit_amount, currency, pricing, unit_amount_decimal, "
                    "stripe_price_id FROM catalog_items ORDER BY name"
                )
            ).all()
            assert [tuple(r) for r in rows] == [
                ("Consulting", None, None, "per_unit", None, None),
                ("Managed endpoint", 1500, "USD", "per_unit", "1500", "price_1"),
                ("Onsite visit", 15000, "USD", "per_unit", None, None),
            ]
            _assert_models_match(conn)
        with engine.begin() as conn:  # the price in EUR is another row now
            _insert(
                conn,
                backend,
                "catalog_items",
                id=ids["new"],
                name="Managed endpoint",
                unit_amount=1400,
                currency="EUR",
                source="stripe",
                stripe_product_id="prod_1",
                stripe_price_id="price_1",
                pricing="per_unit",
                **item,
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:  # in USD again it is not
            _insert(
                conn,
                backend,
                "catalog_items",
                id=_new_id(backend),
                name="Managed endpoint",
                unit_amount=1500,
                currency="USD",
                source="stripe",
                stripe_product_id="prod_1",
                stripe_price_id="price_1",
                pricing="per_unit",
                **item,
            )

    # And back: the price's EUR row goes (the old key is one row per price), the rest stays.
    command.downgrade(alembic_config(url), "0006")
    with _engine(url) as engine, engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM catalog_items ORDER BY name")).scalars()
        assert list(names) == ["Consulting", "Managed endpoint", "Onsite visit"]
    upgrade(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0006_upgrades_a_database_holding_sent_and_paid_invoices(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0006 (invoices.amount_due) over a 0004 database with a sent and a paid
    invoice: both survive as they were, with no amount due recorded (it is read from Stripe
    when an invoice is sent)."""
    url = _old_database(backend, request, tmp_path, "0004")
    ids = _ids(backend, "org", "client", "sent", "paid")
    now = _now(backend)
    with _engine(url) as engine, engine.begin() as conn:
        _insert(
            conn,
            backend,
            "orgs",
            id=ids["org"],
            name="Old MSP",
            slug="old-msp",
            timezone="UTC",
            default_currency="ISK",
            default_hourly_rate=15000,
            allow_self_approval=False,
            default_days_until_due=30,
            next_invoice_number=3,
        )
        _insert(
            conn,
            backend,
            "clients",
            id=ids["client"],
            org_id=ids["org"],
            name="Client",
            billing_email="ap@client.example",
            currency="ISK",
            hourly_rate=15000,
            compliance_enabled=False,
        )
        for key, number, status, paid in (
            ("sent", "INV-000001", "sent", None),
            ("paid", "INV-000002", "paid", 22500),
        ):
            _insert(
                conn,
                backend,
                "invoices",
                id=ids[key],
                org_id=ids["org"],
                client_id=ids["client"],
                number=number,
                status=status,
                currency="ISK",
                total=22500,
                days_until_due=30,
                memo="",
                stripe_invoice_id=f"in_{key}",
                sent_at=now,
                paid_at=now if paid else None,
                amount_paid=paid,
            )

    upgrade(url)

    with _engine(url) as engine, engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT number, status, total, amount_paid, amount_due FROM invoices "
                "ORDER BY number"
            )
        ).all()
        assert [tuple(r) for r in rows] == [
            ("INV-000001", "sent", 22500, None, None),
            ("INV-000002", "paid", 22500, 22500, None),
        ]
        _assert_models_match(conn)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0005_upgrades_a_database_holding_a_stripe_connection(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0005 (the Stripe account's country and invoice payment methods) over a 0004
    database with an org connected to Stripe: the connection survives, its country and
    payment method choice start empty (invoices then offer cards until Test Connection)."""
    url = _old_database(backend, request, tmp_path, "0004")
    ids = _ids(backend, "org", "conn")
    with _engine(url) as engine, engine.begin() as conn:
        _insert(
            conn,
            backend,
            "orgs",
            id=ids["org"],
            name="Old MSP",
            slug="old-msp",
            timezone="UTC",
            default_currency="USD",
            default_hourly_rate=10000,
            allow_self_approval=False,
            default_days_until_due=30,
            next_invoice_number=7,
        )
        _insert(
            conn,
            backend,
            "stripe_connections",
            id=ids["conn"],
            org_id=ids["org"],
            webhook_token_hash="b" * 64,
            mode="live",
            publishable_key="pk_live_old",
            last_test_ok=True,
            last_test_account_id="acct_old",
        )

    upgrade(url)

    with _engine(url) as engine, engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT mode, publishable_key, last_test_account_id, account_country, "
                "payment_methods FROM stripe_connections"
            )
        ).one()
        assert tuple(row) == ("live", "pk_live_old", "acct_old", None, None)
        assert conn.execute(sa.text("SELECT next_invoice_number FROM orgs")).scalar() == 7
        _assert_models_match(conn)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0015_upgrades_a_database_holding_platform_settings(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0015 (the customer portal configuration) over a 0014 database where platform
    setup ran: the row survives, with no configuration yet (the next setup makes it)."""
    url = _old_database(backend, request, tmp_path, "0014")
    with _engine(url) as engine, engine.begin() as conn:
        _insert(
            conn,
            backend,
            "platform_settings",
            id=1,
            account_id="acct_platform",
            livemode=False,
            prices={"regentra_starter_monthly": "price_1"},
            webhook_endpoint_id="we_1",
            billing_on_at=_now(backend),
        )

    upgrade(url)

    with _engine(url) as engine, engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT account_id, webhook_endpoint_id, portal_configuration_id "
                "FROM platform_settings"
            )
        ).one()
        assert tuple(row) == ("acct_platform", "we_1", None)
        _assert_models_match(conn)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0016_upgrades_a_database_holding_paid_invoices(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0016 (refunds, disputes, payouts and their QuickBooks postings) over a 0015
    database with a paid invoice: the invoice survives with no PaymentIntent known yet, and a
    refund of it can be recorded."""
    url = _old_database(backend, request, tmp_path, "0015")
    ids = _ids(backend, "org", "client", "invoice", "refund")
    with _engine(url) as engine, engine.begin() as conn:
        _insert(
            conn,
            backend,
            "orgs",
            id=ids["org"],
            name="Old MSP",
            slug="old-msp",
            timezone="UTC",
            default_currency="USD",
            default_hourly_rate=10000,
            allow_self_approval=False,
            default_days_until_due=30,
            next_invoice_number=2,
        )
        _insert(
            conn,
            backend,
            "clients",
            id=ids["client"],
            org_id=ids["org"],
            name="Client",
            billing_email="ap@client.example",
            currency="USD",
            hourly_rate=12000,
            compliance_enabled=False,
        )
        _insert(
            conn,
            backend,
            "invoices",
            id=ids["invoice"],
            org_id=ids["org"],
            client_id=ids["client"],
            number="INV-000001",
            status="paid",
            currency="USD",
            total=12000,
            amount_paid=12000,
            days_until_due=30,
            memo="",
            stripe_invoice_id="in_old",
            sent_at=_now(backend),
            paid_at=_now(backend),
        )

    upgrade(url)

    with _engine(url) as engine, engine.begin() as conn:
        row = conn.execute(
            sa.text(
                "SELECT number, status, amount_paid, stripe_payment_intent_id, stripe_charge_id "
                "FROM invoices"
            )
        ).one()
        assert tuple(row) == ("INV-000001", "paid", 12000, None, None)
        _insert(
            conn,
            backend,
            "refunds",
            id=ids["refund"],
            org_id=ids["org"],
            invoice_id=ids["invoice"],
            amount=2000,
            currency="USD",
            status="requested",
        )
        assert conn.execute(sa.text("SELECT amount FROM refunds")).scalar() == 2000
        _assert_models_match(conn)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0017_upgrades_a_database_holding_approved_time(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0017 (invoice runs) over a 0016 database with an org and a client: a run
    and its item for that client can be recorded, and a second item for the same client in
    the same run is refused."""
    url = _old_database(backend, request, tmp_path, "0016")
    ids = _ids(backend, "org", "client", "run", "item", "again")
    with _engine(url) as engine, engine.begin() as conn:
        _insert(
            conn,
            backend,
            "orgs",
            id=ids["org"],
            name="Old MSP",
            slug="old-msp",
            timezone="UTC",
            default_currency="USD",
            default_hourly_rate=10000,
            allow_self_approval=False,
            default_days_until_due=30,
            next_invoice_number=1,
        )
        _insert(
            conn,
            backend,
            "clients",
            id=ids["client"],
            org_id=ids["org"],
            name="Client",
            billing_email="ap@client.example",
            currency="USD",
            hourly_rate=12000,
            compliance_enabled=False,
        )

    upgrade(url)

    item = {
        "org_id": ids["org"],
        "run_id": ids["run"],
        "position": 1,
        "client_id": ids["client"],
        "client_name": "Client",
        "currency": "USD",
        "entries": 2,
        "minutes": 90,
        "amount": 18000,
        "included": True,
        "state": "listed",
    }
    with _engine(url) as engine, engine.begin() as conn:
        _insert(
            conn,
            backend,
            "invoice_runs",
            id=ids["run"],
            org_id=ids["org"],
            period_start=date(2026, 11, 1),
            period_end=date(2026, 11, 30),
            status="review",
        )
        _insert(conn, backend, "invoice_run_items", id=ids["item"], **item)
        assert conn.execute(sa.text("SELECT amount FROM invoice_run_items")).scalar() == 18000
        _assert_models_match(conn)
    with _engine(url) as engine, pytest.raises(IntegrityError), engine.begin() as conn:
        _insert(conn, backend, "invoice_run_items", id=ids["again"], **item)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0019_upgrades_a_database_holding_catalog_items(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0019 (income items per catalog item) over a 0018 database with an org and a
    catalog item: the item's QuickBooks income item can be recorded, a second one for the
    same catalog item is refused, and one for a catalog item of another org too."""
    url = _old_database(backend, request, tmp_path, "0018")
    ids = _ids(backend, "org", "other", "item", "mapping", "again", "foreign")
    with _engine(url) as engine, engine.begin() as conn:
        for key, slug in (("org", "old-msp"), ("other", "other-msp")):
            _insert(
                conn,
                backend,
                "orgs",
                id=ids[key],
                name=slug,
                slug=slug,
                timezone="UTC",
                default_currency="USD",
                default_hourly_rate=10000,
                allow_self_approval=False,
                default_days_until_due=30,
                next_invoice_number=1,
            )
        _insert(
            conn,
            backend,
            "catalog_items",
            id=ids["item"],
            org_id=ids["org"],
            name="Firewall",
            unit_amount=4000,
            currency="USD",
            source="manual",
            active=True,
        )

    upgrade(url)

    row = {
        "org_id": ids["org"],
        "catalog_item_id": ids["item"],
        "realm_id": "9130",
        "quickbooks_item_id": "12",
        "quickbooks_item_name": "Hardware",
    }
    with _engine(url) as engine, engine.begin() as conn:
        _insert(conn, backend, "quickbooks_item_mappings", id=ids["mapping"], **row)
        found = conn.execute(sa.text("SELECT quickbooks_item_id FROM quickbooks_item_mappings"))
        assert found.scalar() == "12"
        _assert_models_match(conn)
    with _engine(url) as engine, pytest.raises(IntegrityError), engine.begin() as conn:
        _insert(conn, backend, "quickbooks_item_mappings", id=ids["again"], **row)
    with _engine(url) as engine, pytest.raises(IntegrityError), engine.begin() as conn:
        if backend == "sqlite":
            conn.execute(sa.text("PRAGMA foreign_keys = ON"))
        foreign = {**row, "org_id": ids["other"]}
        _insert(conn, backend, "quickbooks_item_mappings", id=ids["foreign"], **foreign)
