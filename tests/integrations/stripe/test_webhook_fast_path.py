"""The webhook path does nothing slow inside a write transaction (issue 13): the token and the
signing secret are read in a read that takes no write lock (on SQLite no BEGIN IMMEDIATE),
then the secret is decrypted (cached per process, keyed by the stored ciphertext) and the
signature verified with no transaction open, then one short write transaction stores and
handles the event. In-process, both databases."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from conftest import Database, OrgKit, Site
from sqlalchemy import Text, cast, event, func, select, update
from sqlalchemy.orm import sessionmaker

import regentra.db
from regentra import queue
from regentra.integrations.stripe import client
from regentra.invoices import transitions
from regentra.kit.crypto import Keyring
from regentra.kit.time import utcnow
from regentra.models import (
    AuditEvent,
    Invoice,
    QuickBooksConnection,
    SecretPurpose,
    StripeConnection,
    StripeEvent,
)
from regentra.orgs import secrets
from regentra.orgs import service as orgs_service

SIGNING = SecretPurpose.stripe_webhook_secret.value


def sign(payload: bytes, secret: str) -> str:
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def body(event_id: str | None = None) -> bytes:
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": "customer.created",
        "livemode": False,
        "created": int(time.time()),
        "data": {"object": {"id": "cus_fast", "object": "customer"}},
    }
    return json.dumps(event, indent=2).encode()


class Endpoint:
    def __init__(self, kit: OrgKit, db: Database) -> None:
        self.kit, self.db = kit, db
        self.secret = "whsec_" + uuid.uuid4().hex
        with db.session() as session:
            self.token = orgs_service.issue_stripe_webhook_token(session, org_id=kit.org.id)
            secrets.put(session, org_id=kit.org.id, purpose=SIGNING, value=self.secret)
            session.commit()

    def new_secret(self) -> str:
        self.secret = "whsec_" + uuid.uuid4().hex
        with self.db.session() as session:
            secrets.put(session, org_id=self.kit.org.id, purpose=SIGNING, value=self.secret)
            session.commit()
        return self.secret

    def deliver(self, payload: bytes, secret: str | None = None) -> Any:
        signature = sign(payload, secret or self.secret)
        with self.kit.server.http() as http:
            return http.post(
                f"/api/webhooks/stripe/{self.token}",
                content=payload,
                headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            )


@pytest.fixture
def endpoint(make_org: Callable[..., OrgKit], db: Database) -> Endpoint:
    return Endpoint(make_org(), db)


def test_signature_is_verified_with_no_transaction_open(
    endpoint: Endpoint, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every session joins the test's connection through a SAVEPOINT: while the SDK verifies,
    no session may hold one (before: the token look-up's write transaction was still open)."""
    connection = db.sessions.kw["bind"]
    seen: list[bool] = []
    verify = client.construct_event

    def spy(*args: Any, **kw: Any) -> dict[str, Any]:
        seen.append(connection.in_nested_transaction())
        return verify(*args, **kw)

    monkeypatch.setattr(client, "construct_event", spy)
    r = endpoint.deliver(body())
    assert r.status_code == 200, r.text
    assert seen == [False]
    # A rejection is verified outside a transaction too, and still recorded.
    r = endpoint.deliver(body(), secret="whsec_wrong")
    assert r.status_code == 400
    assert seen == [False, False]
    with db.session() as session:
        conn = session.scalar(
            select(StripeConnection).where(StripeConnection.org_id == endpoint.kit.org.id)
        )
        assert conn is not None and conn.last_webhook_rejected_at is not None
        assert "signature" in str(conn.last_webhook_rejection)
        assert conn.last_webhook_at is not None  # the accepted one


def test_the_token_look_up_does_not_wait_for_the_write_lock(
    db: Database, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer holds the database (here: the test's own open transaction, which on SQLite
    began IMMEDIATE): a webhook's token look-up still answers at once (an unknown token:
    404). Before, it began IMMEDIATE itself and waited for the lock (here 0.2 s, then
    "database is locked": a 500)."""
    engine = regentra.db.make_engine(db.url)
    if db.backend == "sqlite":
        event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA busy_timeout=200"))
    monkeypatch.setattr(regentra.db, "get_sessionmaker", lambda: sessionmaker(bind=engine))
    try:
        started = time.monotonic()
        r = site.post("/api/webhooks/stripe/no-such-token", content=body())
        assert r.status_code == 404, r.text
        assert time.monotonic() - started < 2
    finally:
        engine.dispose()


def test_the_signing_secret_is_decrypted_once_and_a_new_one_is_used_at_once(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    decrypted: list[str] = []
    decrypt = Keyring.decrypt

    def spy(self: Keyring, envelope: str, *, org_id: object, purpose: str) -> str:
        if purpose == SIGNING:
            decrypted.append(envelope)
        return decrypt(self, envelope, org_id=org_id, purpose=purpose)

    monkeypatch.setattr(Keyring, "decrypt", spy)
    for _ in range(3):
        assert endpoint.deliver(body()).status_code == 200
    assert len(decrypted) == 1
    old = endpoint.secret
    new = endpoint.new_secret()
    r = endpoint.deliver(body(), secret=old)
    assert r.status_code == 400, r.text  # the old secret no longer verifies, at once
    assert endpoint.deliver(body(), secret=new).status_code == 200
    assert len(decrypted) == 2


def test_a_duplicate_delivery_is_answered_and_stored_once(endpoint: Endpoint, db: Database) -> None:
    payload = body("evt_fast_duplicate")
    first = endpoint.deliver(payload)
    second = endpoint.deliver(payload)
    assert first.json() == {"received": True}
    assert second.json() == {"received": True, "duplicate": True}
    with db.session() as session:
        rows = session.scalars(
            select(StripeEvent).where(StripeEvent.org_id == endpoint.kit.org.id)
        ).all()
    assert [(r.event_id, r.outcome) for r in rows] == [("evt_fast_duplicate", "stored")]


def test_the_last_event_time_is_written_once_a_minute(endpoint: Endpoint, db: Database) -> None:
    """Concurrent deliveries do not all write the connection's row: the time of the last
    accepted event is kept to the minute."""

    def last() -> Any:
        with db.session() as session:
            return session.scalar(
                select(StripeConnection.last_webhook_at).where(
                    StripeConnection.org_id == endpoint.kit.org.id
                )
            )

    assert endpoint.deliver(body()).status_code == 200
    first = last()
    assert first is not None
    assert endpoint.deliver(body()).status_code == 200
    assert last() == first  # within the minute: not written again
    earlier = first - timedelta(minutes=2)
    with db.session() as session:
        session.execute(
            update(StripeConnection)
            .where(StripeConnection.org_id == endpoint.kit.org.id)
            .values(last_webhook_at=earlier)
        )
        session.commit()
    assert endpoint.deliver(body()).status_code == 200
    assert last() > earlier + timedelta(minutes=1)


def test_a_payment_goes_to_bookkeeping_only_in_the_org_with_quickbooks(
    make_org: Callable[..., OrgKit], db: Database
) -> None:
    """The paid transition also answers whether the org has QuickBooks connected (one
    statement): the payment bridge is enqueued for that org's invoices, never for another's."""
    with_books, without = make_org(), make_org()
    with db.session() as session:
        session.add(
            QuickBooksConnection(
                org_id=with_books.org.id, realm_id="9130350000000001", connected_at=utcnow()
            )
        )
        session.commit()
    stripe_ids = {kit.org.id: _sent_invoice(kit, db) for kit in (with_books, without)}
    huey = queue.get_huey()
    huey.flush()
    for kit in (without, with_books):
        with db.session() as session:
            paid = transitions.mark_paid(
                session,
                org_id=kit.org.id,
                stripe_invoice_id=stripe_ids[kit.org.id],
                paid_at=utcnow(),
                amount_paid=None,
                source="webhook",
            )
            session.commit()
        assert paid is not None and paid.amount_paid == 18_000  # the total, when Stripe is silent
        names = []
        while (message := huey.dequeue()) is not None:
            names.append((message.name, message.args))
        expected = [("quickbooks.record_payment", (str(paid.id),))] if kit is with_books else []
        assert names == expected


def _sent_invoice(kit: OrgKit, db: Database) -> str:
    client = kit.client()
    stripe_id = f"in_{uuid.uuid4().hex[:24]}"
    with db.session() as session:
        session.add(
            Invoice(
                org_id=kit.org.id,
                client_id=client.id,
                number=f"INV-{uuid.uuid4().hex[:6]}",
                status="sent",
                currency=client.currency,
                total=18_000,
                days_until_due=30,
                memo="",
                stripe_invoice_id=stripe_id,
                sent_at=utcnow(),
            )
        )
        session.commit()
    return stripe_id


def test_a_delivery_is_stored_exactly_as_stripe_sent_it(endpoint: Endpoint, db: Database) -> None:
    """The signed bytes, as received (Stripe's pretty-printed JSON), not a re-serialization;
    read back, the payload is the event."""
    payload = body("evt_fast_as_sent")
    assert endpoint.deliver(payload).status_code == 200
    with db.session() as session:
        text, parsed = session.execute(
            select(cast(StripeEvent.payload, Text), StripeEvent.payload).where(
                StripeEvent.org_id == endpoint.kit.org.id,
                StripeEvent.event_id == "evt_fast_as_sent",
            )
        ).one()
    assert text == payload.decode()
    assert parsed == json.loads(payload)


def paid_body(event_id: str, stripe_invoice_id: str, amount_paid: int = 18_000) -> bytes:
    event = {
        "id": event_id,
        "object": "event",
        "type": "invoice.paid",
        "livemode": False,
        "created": int(time.time()),
        "data": {
            "object": {
                "id": stripe_invoice_id,
                "object": "invoice",
                "amount_paid": amount_paid,
                "currency": "usd",
                "status": "paid",
                "status_transitions": {"paid_at": int(time.time()) - 5},
            }
        },
    }
    return json.dumps(event, indent=2).encode()


def test_invoice_paid_is_one_statement_on_postgresql_with_the_same_result(
    make_org: Callable[..., OrgKit], db: Database
) -> None:
    """The common delivery, a first `invoice.paid` for an open invoice, is on PostgreSQL one
    statement after the token look-up (the transition, the audit entry and the stored event
    with its outcome; before: four, between BEGIN and COMMIT), and a redelivery is one too.
    What it leaves is exactly what the general path leaves on SQLite: the invoice paid, the
    same audit entry, the event stored as sent with its outcome, the payment handed to
    QuickBooks. The cases it does not take (an invoice already paid, an unknown one) go the
    general way with its outcomes."""
    kit = make_org()
    endpoint = Endpoint(kit, db)
    with db.session() as session:
        session.add(
            QuickBooksConnection(
                org_id=kit.org.id, realm_id="9130350000000002", connected_at=utcnow()
            )
        )
        session.commit()
    stripe_id = _sent_invoice(kit, db)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split())[:60])

    connection = db.sessions.kw["bind"]
    huey = queue.get_huey()
    huey.flush()
    payload = paid_body("evt_at_once_first", stripe_id, amount_paid=17_500)
    event.listen(connection, "before_cursor_execute", seen)
    try:
        r = endpoint.deliver(payload)
        first, statements[:] = list(statements), []
        again = endpoint.deliver(payload)
        redelivered, statements[:] = list(statements), []
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    assert r.status_code == 200 and r.json() == {"received": True}, r.text
    assert again.status_code == 200 and again.json() == {"received": True, "duplicate": True}
    writes = [s for s in first if not s.startswith("SELECT stripe_connections")]
    if db.backend == "postgresql":
        # The statement, then last_webhook_at (written once a minute: here the first time).
        assert [s.split(" ")[0] for s in writes] == ["WITH", "UPDATE"], first
        assert writes[1].startswith("UPDATE stripe_connections")
        assert [s.split(" ")[0] for s in redelivered] == ["SELECT", "WITH"], redelivered
    else:
        assert len(writes) > 2  # the general path: its transaction, statement by statement

    with db.session() as session:
        invoice = session.scalars(
            select(Invoice).where(Invoice.stripe_invoice_id == stripe_id)
        ).one()
        assert invoice.status == "paid" and invoice.amount_paid == 17_500
        assert invoice.paid_at is not None
        stored = session.scalars(
            select(StripeEvent).where(
                StripeEvent.org_id == kit.org.id, StripeEvent.type == "invoice.paid"
            )
        ).all()
        assert [(e.event_id, e.outcome, e.source) for e in stored] == [
            ("evt_at_once_first", f"paid: invoice {invoice.number}", "webhook")
        ]
        assert stored[0].processed_at is not None and stored[0].object_id == stripe_id
        assert (
            session.scalar(
                select(cast(StripeEvent.payload, Text)).where(StripeEvent.id == stored[0].id)
            )
            == payload.decode()
        )
        entries = session.scalars(
            select(AuditEvent).where(
                AuditEvent.org_id == kit.org.id, AuditEvent.action == "invoice.paid"
            )
        ).all()
        assert [(a.actor_type, a.actor_label, a.subject_type, a.subject_id) for a in entries] == [
            ("stripe", "Stripe (webhook)", "invoice", str(invoice.id))
        ]
        assert entries[0].details == {
            "message": "payment received (Stripe webhook)",
            "number": invoice.number,
            "amount_paid": 17_500,
            "stripe_invoice_id": stripe_id,
            "stripe_event_id": "evt_at_once_first",
        }
    names = []
    while (message := huey.dequeue()) is not None:
        names.append((message.name, message.args))
    assert names == [("quickbooks.record_payment", (str(invoice.id),))]

    # A new event for the invoice now paid, and one for an invoice the org does not have.
    assert endpoint.deliver(paid_body("evt_at_once_late", stripe_id)).status_code == 200
    assert endpoint.deliver(paid_body("evt_at_once_unknown", "in_nobody")).status_code == 200
    with db.session() as session:
        outcomes = dict(
            session.execute(
                select(StripeEvent.event_id, StripeEvent.outcome).where(
                    StripeEvent.org_id == kit.org.id,
                    StripeEvent.event_id.in_(["evt_at_once_late", "evt_at_once_unknown"]),
                )
            ).all()
        )
        assert outcomes == {
            "evt_at_once_late": f"no change: invoice {invoice.number} is paid",
            "evt_at_once_unknown": "ignored: no invoice of this org has Stripe id in_nobody",
        }
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.org_id == kit.org.id, AuditEvent.action == "invoice.paid")
            )
            == 1
        )
