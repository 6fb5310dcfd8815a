"""The migrations build exactly the models' schema, on both databases, and the audit log
cannot be rewritten."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError

from regentra.models import AuditEvent, Base

pytestmark = [pytest.mark.e2e]


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
    import sqlalchemy as sa

    from regentra.db import make_engine
    from regentra.migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"regentra_mig_{uuid.uuid4().hex[:8]}"
        )
    upgrade(url, "0003")
    engine = make_engine(url)
    # Reflected tables: SQLite stores a UUID as 32 hex characters, PostgreSQL as uuid.
    ids = {
        name: uuid.uuid4().hex if backend == "sqlite" else str(uuid.uuid4())
        for name in ("org", "user", "client", "ticket", "entry", "conn")
    }
    now = sa.func.now() if backend == "postgres" else sa.text("CURRENT_TIMESTAMP")
    with engine.begin() as conn:

        def insert(table: str, **values: Any) -> None:
            meta = sa.MetaData()
            t = sa.Table(table, meta, autoload_with=conn)
            row = {k: v for k, v in values.items()}
            for column in ("created_at", "updated_at"):
                if column in t.c:
                    row[column] = now
            conn.execute(sa.insert(t).values(**row))

        insert(
            "orgs",
            id=ids["org"],
            name="Old MSP",
            slug="old-msp",
            timezone="UTC",
            default_currency="USD",
            default_hourly_rate=10000,
            allow_self_approval=False,
        )
        insert(
            "users",
            id=ids["user"],
            org_id=ids["org"],
            email="tech@old.example",
            name="Tech",
            role="technician",
            password_hash="x",
            is_active=True,
        )
        insert(
            "clients",
            id=ids["client"],
            org_id=ids["org"],
            name="Client",
            billing_email="ap@client.example",
            currency="USD",
            hourly_rate=12000,
            compliance_enabled=False,
        )
        insert(
            "tickets",
            id=ids["ticket"],
            org_id=ids["org"],
            client_id=ids["client"],
            title="Old ticket",
            status="open",
        )
        insert(
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
        insert(
            "stripe_connections",
            id=ids["conn"],
            org_id=ids["org"],
            webhook_token_hash="a" * 64,
            mode="test",
        )
    engine.dispose()

    upgrade(url)

    engine = make_engine(url)
    with engine.connect() as conn:
        org = conn.execute(
            sa.text("SELECT default_days_until_due, next_invoice_number FROM orgs")
        ).one()
        assert tuple(org) == (30, 1)
        entry = conn.execute(sa.text("SELECT minutes, status, invoice_id FROM time_entries")).one()
        assert tuple(entry) == (60, "approved", None)
        assert conn.execute(sa.text("SELECT stripe_customer_id FROM clients")).scalar() is None
        assert conn.execute(sa.text("SELECT mode FROM stripe_connections")).scalar() == "test"
        assert conn.execute(sa.text("SELECT count(*) FROM invoices")).scalar() == 0
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0005_upgrades_a_database_holding_a_stripe_connection(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Migration 0005 (the Stripe account's country and invoice payment methods) over a 0004
    database with an org connected to Stripe: the connection survives, its country and
    payment method choice start empty (invoices then offer cards until Test Connection)."""
    import sqlalchemy as sa

    from regentra.db import make_engine
    from regentra.migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"regentra_mig_{uuid.uuid4().hex[:8]}"
        )
    upgrade(url, "0004")
    engine = make_engine(url)
    org_id, conn_id = (
        (uuid.uuid4().hex, uuid.uuid4().hex)
        if backend == "sqlite"
        else (str(uuid.uuid4()), str(uuid.uuid4()))
    )
    now = sa.func.now() if backend == "postgres" else sa.text("CURRENT_TIMESTAMP")
    with engine.begin() as conn:
        meta = sa.MetaData()
        orgs = sa.Table("orgs", meta, autoload_with=conn)
        conns = sa.Table("stripe_connections", meta, autoload_with=conn)
        conn.execute(
            sa.insert(orgs).values(
                id=org_id,
                name="Old MSP",
                slug="old-msp",
                timezone="UTC",
                default_currency="USD",
                default_hourly_rate=10000,
                allow_self_approval=False,
                default_days_until_due=30,
                next_invoice_number=7,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            sa.insert(conns).values(
                id=conn_id,
                org_id=org_id,
                webhook_token_hash="b" * 64,
                mode="live",
                publishable_key="pk_live_old",
                last_test_ok=True,
                last_test_account_id="acct_old",
                created_at=now,
                updated_at=now,
            )
        )
    engine.dispose()

    upgrade(url)

    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT mode, publishable_key, last_test_account_id, account_country, "
                "payment_methods FROM stripe_connections"
            )
        ).one()
        assert tuple(row) == ("live", "pk_live_old", "acct_old", None, None)
        assert conn.execute(sa.text("SELECT next_invoice_number FROM orgs")).scalar() == 7
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
    engine.dispose()
