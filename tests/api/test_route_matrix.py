"""Every /api/v1 route, for every role and across orgs.

The matrix enumerates the app's routes: a new route without a case here fails the suite.
Each role gets exactly its rights (allowed → 2xx, otherwise 403), and a user of org B gets
404 for org A's objects on every route that takes an id, and never sees A's rows in lists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from regentra.app import create_app
from regentra.models import TimeEntry, User

ALL = frozenset({"admin", "approver", "technician"})
APPROVE = frozenset({"admin", "approver"})
ADMIN = frozenset({"admin"})


@dataclass
class World:
    """Org A with one user per role, plus a second technician and an approver as a third
    party, a client and a ticket."""

    kit: Any
    users: dict[str, User]
    other_tech: User
    client: Any
    ticket: Any

    def entry(self, owner: User, status: str = "draft") -> TimeEntry:
        approver = self.users["approver"] if owner.role != "approver" else self.users["admin"]
        return self.kit.entry(owner, ticket=self.ticket, status=status, approver=approver)


@dataclass
class Req:
    params: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    # When set, the list response must contain this id (own org) and must not (other org).
    listed_id: str | None = None


@dataclass
class Case:
    roles: frozenset[str]
    build: Callable[[World, User], Req]
    expect: int = 200
    # The status org B's admin gets for a request without ids that acts on B's own state
    # (e.g. 409 "Stripe is not connected" for B's catalog sync), when it is not 2xx.
    other_org: int | None = None


def _uniq() -> str:
    return uuid.uuid4().hex[:8]


_CATALOG_ITEMS: dict[uuid.UUID, str] = {}


def _catalog_item(w: World) -> str:
    """A manual catalog item of org A (made once), and A connected to Stripe, so its admin
    can ask for a sync (the sync is only enqueued: no worker runs it here)."""
    org_id = w.kit.org.id
    if org_id not in _CATALOG_ITEMS:
        from regentra.audit.service import Actor
        from regentra.catalog import service as catalog
        from regentra.catalog.schemas import CatalogItemCreate
        from regentra.orgs import secrets

        def make(s: Any) -> str:
            secrets.put(s, org_id=org_id, purpose="stripe_secret_key", value="sk_test_" + "0" * 24)
            data = CatalogItemCreate(name="Remote support", unit_amount=12500, currency="USD")
            item = catalog.create_manual(s, org_id=org_id, data=data, actor=Actor.system())
            return str(item.id)

        _CATALOG_ITEMS[org_id] = w.kit._commit(make)
    return _CATALOG_ITEMS[org_id]


def _stripe_connected(w: World) -> Req:
    _catalog_item(w)
    from regentra.orgs import secrets

    # Again each time: the DELETE /integrations/stripe case disconnects org A.
    w.kit._commit(
        lambda s: secrets.put(
            s, org_id=w.kit.org.id, purpose="stripe_secret_key", value="sk_test_" + "0" * 24
        )
    )
    return Req()


def _catalog_sync(w: World) -> str:
    from regentra.catalog import service as catalog

    _catalog_item(w)
    return str(w.kit._commit(lambda s: catalog.start_sync(s, org_id=w.kit.org.id).id))


def _foreign_entry(w: World, caller: User, status: str) -> TimeEntry:
    """An entry the caller may act on as an approver: someone else's."""
    return w.entry(w.other_tech, status)


def _invoice(w: World, status: str = "draft") -> str:
    """A fresh draft invoice of org A billing one approved entry (voided when asked)."""
    from regentra.audit.service import Actor
    from regentra.invoices import service as invoicing
    from regentra.invoices import transitions
    from regentra.invoices.schemas import InvoiceCreate
    from regentra.models import Org

    entry = w.entry(w.other_tech, "approved")

    def make(s: Any) -> str:
        org = s.get(Org, w.kit.org.id)
        admin = s.get(User, w.users["admin"].id)
        data = InvoiceCreate(client_id=w.client.id, entry_ids=[entry.id])
        invoice = invoicing.generate(s, org=org, user=admin, data=data)
        if status == "void":
            transitions.mark_void(
                s, org=org, actor=Actor.system(), invoice=invoice, release_entries=True
            )
        return str(invoice.id)

    return str(w.kit._commit(make))


def _invoice_line(w: World) -> Req:
    from regentra.invoices import service as invoicing

    invoice_id = _invoice(w)

    def first_line(s: Any) -> str:
        invoice = invoicing.invoices.get(s, org_id=w.kit.org.id, id=uuid.UUID(invoice_id))
        return str(invoicing.lines_of(s, invoice)[0].id)

    return Req(params={"invoice_id": invoice_id, "line_id": w.kit._commit(first_line)})


def _quickbooks_posting(w: World) -> str:
    """A failed QuickBooks posting of a fresh invoice of org A (Retry only enqueues the
    sync: no worker runs it here)."""
    from integrations.quickbooks.mapping_helpers import declare_quickbooks_tasks

    from regentra.models import QuickBooksPosting

    declare_quickbooks_tasks()
    invoice_id = uuid.UUID(_invoice(w))

    def make(s: Any) -> str:
        row = QuickBooksPosting(
            org_id=w.kit.org.id, invoice_id=invoice_id, kind="payment", state="failed", details={}
        )
        s.add(row)
        s.flush()
        return str(row.id)

    return str(w.kit._commit(make))


def _movement_posting(w: World) -> str:
    """A failed QuickBooks posting of a fresh payout of org A (Retry only enqueues the sync:
    no worker runs it here)."""
    from integrations.quickbooks.mapping_helpers import declare_quickbooks_tasks

    from regentra.models import QuickBooksMovementPosting

    declare_quickbooks_tasks()
    payout_id = uuid.UUID(_payout(w))

    def make(s: Any) -> str:
        row = QuickBooksMovementPosting(
            org_id=w.kit.org.id, subject_id=payout_id, kind="payout", state="failed", details={}
        )
        s.add(row)
        s.flush()
        return str(row.id)

    return str(w.kit._commit(make))


def _payout(w: World) -> str:
    """A manual payout of org A (its page lists no contents: Stripe is not asked)."""
    from regentra.models import Payout

    def make(s: Any) -> str:
        row = Payout(
            org_id=w.kit.org.id,
            stripe_payout_id="po_" + _uniq(),
            amount=12500,
            currency="USD",
            status="paid",
            automatic=False,
        )
        s.add(row)
        s.flush()
        return str(row.id)

    return str(w.kit._commit(make))


def _run(w: World) -> str:
    """An invoice run of org A, its drafts made (none: it lists no client), so sending it is
    refused in words (nothing to send)."""
    from datetime import date

    from regentra.models import InvoiceRun

    def make(s: Any) -> str:
        row = InvoiceRun(
            org_id=w.kit.org.id,
            period_start=date(2026, 10, 1),
            period_end=date(2026, 10, 31),
            status="generated",
        )
        s.add(row)
        s.flush()
        return str(row.id)

    return str(w.kit._commit(make))


def _agreement(w: World) -> Req:
    """A fresh agreement of org A for its client, with one line (never billed: deletable)."""
    from regentra.agreements import service as agreements
    from regentra.agreements.schemas import AgreementCreate, LineCreate
    from regentra.models import Org

    def make(s: Any) -> Req:
        data = AgreementCreate(
            client_id=w.client.id,
            name=f"Managed {_uniq()}",
            starts_on=date(2026, 11, 1),
            lines=[LineCreate(description="Managed endpoint", quantity=5, unit_amount=2500)],
        )
        made = agreements.create(
            s, org=s.get(Org, w.kit.org.id), user=s.get(User, w.users["admin"].id), data=data
        )
        line = agreements.billing.lines_of(s, made)[0]
        return Req(params={"agreement_id": str(made.id), "line_id": str(line.id)})

    made: Req = w.kit._commit(make)
    return made


def _member(w: World, *, active: bool = True) -> Req:
    """A fresh technician of org A to act on (deactivated first when asked)."""
    from regentra.audit.service import Actor
    from regentra.orgs import service as orgs

    member = w.kit.add_user("technician")
    if not active:
        w.kit._commit(
            lambda s: orgs.deactivate_user(
                s, org_id=w.kit.org.id, user_id=member.id, actor=Actor.system()
            )
        )
    return Req(params={"user_id": member.id})


def _web_session(w: World, user: User) -> str:
    """A fresh signed-in browser session of `user` (org A)."""
    from regentra.auth import sessions
    from regentra.models import WebSession

    def make(s: Any) -> str:
        raw = sessions.start(s, user=s.get(User, user.id))
        s.flush()
        return str(
            s.scalar(select(WebSession.id).where(WebSession.token_hash == sessions._digest(raw)))
        )

    return str(w.kit._commit(make))


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/me"): Case(ALL, lambda w, u: Req()),
    ("GET", "/api/v1/me/sessions"): Case(ALL, lambda w, u: Req(listed_id=_web_session(w, u))),
    ("DELETE", "/api/v1/me/sessions/{session_id}"): Case(
        ALL, lambda w, u: Req(params={"session_id": _web_session(w, u)}), 204
    ),
    ("GET", "/api/v1/org"): Case(ALL, lambda w, u: Req()),
    ("PATCH", "/api/v1/org"): Case(ADMIN, lambda w, u: Req(json={"default_hourly_rate": 16000})),
    ("POST", "/api/v1/clients"): Case(
        ADMIN,
        lambda w, u: Req(json={"name": f"New {_uniq()}", "billing_email": "a@b.example.com"}),
        201,
    ),
    ("GET", "/api/v1/clients"): Case(ALL, lambda w, u: Req(listed_id=str(w.client.id))),
    ("GET", "/api/v1/clients/{client_id}"): Case(
        ALL, lambda w, u: Req(params={"client_id": w.client.id})
    ),
    ("PATCH", "/api/v1/clients/{client_id}"): Case(
        ADMIN,
        lambda w, u: Req(params={"client_id": w.client.id}, json={"compliance_enabled": True}),
    ),
    ("POST", "/api/v1/tickets"): Case(
        ALL, lambda w, u: Req(json={"client_id": str(w.client.id), "title": "VPN down"}), 201
    ),
    ("GET", "/api/v1/tickets"): Case(ALL, lambda w, u: Req(listed_id=str(w.ticket.id))),
    ("GET", "/api/v1/tickets/{ticket_id}"): Case(
        ALL, lambda w, u: Req(params={"ticket_id": w.ticket.id})
    ),
    ("PATCH", "/api/v1/tickets/{ticket_id}"): Case(
        ALL, lambda w, u: Req(params={"ticket_id": w.ticket.id}, json={"title": "Renamed"})
    ),
    ("POST", "/api/v1/time-entries"): Case(
        ALL,
        lambda w, u: Req(
            json={
                "ticket_id": str(w.ticket.id),
                "work_date": date.today().isoformat(),
                "minutes": 30,
            }
        ),
        201,
    ),
    ("GET", "/api/v1/time-entries"): Case(ALL, lambda w, u: Req(listed_id=str(w.entry(u).id))),
    ("GET", "/api/v1/time-entries/{entry_id}"): Case(
        ALL, lambda w, u: Req(params={"entry_id": w.entry(u).id})
    ),
    ("PATCH", "/api/v1/time-entries/{entry_id}"): Case(
        ALL, lambda w, u: Req(params={"entry_id": w.entry(u).id}, json={"minutes": 45})
    ),
    ("POST", "/api/v1/time-entries/{entry_id}/submit"): Case(
        ALL, lambda w, u: Req(params={"entry_id": w.entry(u).id})
    ),
    ("POST", "/api/v1/time-entries/{entry_id}/recall"): Case(
        ALL, lambda w, u: Req(params={"entry_id": w.entry(u, "submitted").id})
    ),
    ("POST", "/api/v1/time-entries/{entry_id}/approve"): Case(
        APPROVE, lambda w, u: Req(params={"entry_id": _foreign_entry(w, u, "submitted").id})
    ),
    ("POST", "/api/v1/time-entries/{entry_id}/reject"): Case(
        APPROVE,
        lambda w, u: Req(
            params={"entry_id": _foreign_entry(w, u, "submitted").id}, json={"reason": "vague"}
        ),
    ),
    ("POST", "/api/v1/time-entries/{entry_id}/unapprove"): Case(
        APPROVE, lambda w, u: Req(params={"entry_id": _foreign_entry(w, u, "approved").id})
    ),
    ("POST", "/api/v1/time-entries/bulk-approve"): Case(
        APPROVE,
        lambda w, u: Req(json={"ids": [str(_foreign_entry(w, u, "submitted").id)]}),
    ),
    ("GET", "/api/v1/catalog"): Case(ALL, lambda w, u: Req(listed_id=_catalog_item(w))),
    ("POST", "/api/v1/catalog"): Case(
        ADMIN,
        lambda w, u: Req(json={"name": f"Item {_uniq()}", "unit_amount": 9900, "currency": "usd"}),
        201,
    ),
    ("PATCH", "/api/v1/catalog/{item_id}"): Case(
        ADMIN,
        lambda w, u: Req(params={"item_id": _catalog_item(w)}, json={"description": "Per hour"}),
    ),
    ("POST", "/api/v1/catalog/sync"): Case(
        ADMIN, lambda w, u: _stripe_connected(w), 202, other_org=409
    ),
    ("GET", "/api/v1/catalog/sync/{sync_id}"): Case(
        ALL, lambda w, u: Req(params={"sync_id": _catalog_sync(w)})
    ),
    # Settings → Integrations → Stripe: admins only, each org its own connection. PUT and
    # Test Connection get keys that fail validation (422, before any call to Stripe).
    ("GET", "/api/v1/integrations/stripe"): Case(ADMIN, lambda w, u: Req()),
    ("PUT", "/api/v1/integrations/stripe"): Case(
        ADMIN, lambda w, u: Req(json={"publishable_key": "pub_matrix"}), 422, other_org=422
    ),
    ("POST", "/api/v1/integrations/stripe/test"): Case(
        ADMIN, lambda w, u: Req(json={"secret_key": "pk_test_matrix"}), 422, other_org=422
    ),
    ("PUT", "/api/v1/integrations/stripe/payment-methods"): Case(
        ADMIN, lambda w, u: Req(json={"methods": ["card"]})
    ),
    ("POST", "/api/v1/integrations/stripe/webhook-token/rotate"): Case(ADMIN, lambda w, u: Req()),
    ("DELETE", "/api/v1/integrations/stripe"): Case(ADMIN, lambda w, u: Req()),
    # Reconcile now: A is connected and has no open invoice, so the run is recorded without a
    # call to Stripe (200); B has no Stripe key (409 "Stripe is not connected").
    ("POST", "/api/v1/integrations/stripe/reconcile"): Case(
        ADMIN, lambda w, u: _stripe_connected(w), 200, other_org=409
    ),
    # Settings → Integrations → QuickBooks: admins only, each org its own connection. This
    # server has no QuickBooks app keys, so Connect is refused in words (409).
    ("GET", "/api/v1/integrations/quickbooks"): Case(ADMIN, lambda w, u: Req()),
    ("POST", "/api/v1/integrations/quickbooks/connect"): Case(
        ADMIN, lambda w, u: Req(), 409, other_org=409
    ),
    ("DELETE", "/api/v1/integrations/quickbooks"): Case(ADMIN, lambda w, u: Req()),
    # Settings → Integrations → QuickBooks: admins only. Neither org is connected here (409
    # for the mapping; its checks against a live company are in tests/integrations/quickbooks),
    # and an incomplete mapping body is refused before anything else (422).
    ("GET", "/api/v1/integrations/quickbooks/mapping"): Case(
        ADMIN, lambda w, u: Req(), 409, other_org=409
    ),
    ("PUT", "/api/v1/integrations/quickbooks/mapping"): Case(
        ADMIN, lambda w, u: Req(json={"deposit_account_id": "1"}), 422, other_org=422
    ),
    ("GET", "/api/v1/integrations/quickbooks/postings"): Case(
        ADMIN, lambda w, u: Req(listed_id=_quickbooks_posting(w))
    ),
    ("POST", "/api/v1/integrations/quickbooks/postings/{posting_id}/retry"): Case(
        ADMIN, lambda w, u: Req(params={"posting_id": _quickbooks_posting(w)})
    ),
    ("GET", "/api/v1/integrations/quickbooks/movement-postings"): Case(
        ADMIN, lambda w, u: Req(listed_id=_movement_posting(w))
    ),
    ("POST", "/api/v1/integrations/quickbooks/movement-postings/{posting_id}/retry"): Case(
        ADMIN, lambda w, u: Req(params={"posting_id": _movement_posting(w)})
    ),
    ("GET", "/api/v1/audit-log"): Case(ADMIN, lambda w, u: Req()),
    ("POST", "/api/v1/invoices"): Case(
        ADMIN,
        lambda w, u: Req(
            json={
                "client_id": str(w.client.id),
                "entry_ids": [str(w.entry(w.other_tech, "approved").id)],
            }
        ),
        201,
    ),
    ("GET", "/api/v1/invoices"): Case(APPROVE, lambda w, u: Req(listed_id=_invoice(w))),
    ("GET", "/api/v1/invoices/preview"): Case(
        ADMIN, lambda w, u: Req(params={"client_id": w.client.id})
    ),
    ("GET", "/api/v1/invoices/{invoice_id}"): Case(
        APPROVE, lambda w, u: Req(params={"invoice_id": _invoice(w)})
    ),
    ("PATCH", "/api/v1/invoices/{invoice_id}"): Case(
        ADMIN, lambda w, u: Req(params={"invoice_id": _invoice(w)}, json={"memo": "Thanks!"})
    ),
    ("DELETE", "/api/v1/invoices/{invoice_id}"): Case(
        ADMIN, lambda w, u: Req(params={"invoice_id": _invoice(w)}), 204
    ),
    ("POST", "/api/v1/invoices/{invoice_id}/lines"): Case(
        ADMIN,
        lambda w, u: Req(
            params={"invoice_id": _invoice(w)},
            json={"description": "Site visit", "unit_amount": 7500},
        ),
        201,
    ),
    ("DELETE", "/api/v1/invoices/{invoice_id}/lines/{line_id}"): Case(
        ADMIN, lambda w, u: _invoice_line(w)
    ),
    # A void invoice cannot be sent: refused (409) before anything reaches Stripe.
    ("POST", "/api/v1/invoices/{invoice_id}/send"): Case(
        ADMIN, lambda w, u: Req(params={"invoice_id": _invoice(w, "void")}), 409
    ),
    # Only a sent or overdue invoice is sent again: a draft is refused in words (409) before
    # anything reaches Stripe.
    ("POST", "/api/v1/invoices/{invoice_id}/resend"): Case(
        ADMIN, lambda w, u: Req(params={"invoice_id": _invoice(w)}), 409
    ),
    # A payment outside Stripe is recorded on a sent or overdue invoice: a draft is refused in
    # words (409) before anything reaches Stripe.
    ("POST", "/api/v1/invoices/{invoice_id}/record-payment"): Case(
        ADMIN,
        lambda w, u: Req(params={"invoice_id": _invoice(w)}, json={"method": "cheque"}),
        409,
    ),
    ("POST", "/api/v1/invoices/{invoice_id}/void"): Case(
        ADMIN,
        lambda w, u: Req(params={"invoice_id": _invoice(w)}, json={"release_entries": True}),
    ),
    # Refunds: admins only; a draft cannot be refunded (409, before Stripe is asked).
    ("POST", "/api/v1/invoices/{invoice_id}/refunds"): Case(
        ADMIN, lambda w, u: Req(params={"invoice_id": _invoice(w)}, json={"amount": 100}), 409
    ),
    ("GET", "/api/v1/payouts"): Case(ADMIN, lambda w, u: Req(listed_id=_payout(w))),
    ("GET", "/api/v1/payouts/{payout_id}"): Case(
        ADMIN, lambda w, u: Req(params={"payout_id": _payout(w)})
    ),
    ("GET", "/api/v1/receivables"): Case(ADMIN, lambda w, u: Req()),
    # Invoice runs: org A has no approved time, so a new run is refused in words (409).
    ("POST", "/api/v1/invoice-runs"): Case(
        ADMIN, lambda w, u: Req(json={"period": "2026-10"}), 409, other_org=409
    ),
    ("GET", "/api/v1/invoice-runs"): Case(ADMIN, lambda w, u: Req(listed_id=_run(w))),
    ("GET", "/api/v1/invoice-runs/{run_id}"): Case(
        ADMIN, lambda w, u: Req(params={"run_id": _run(w)})
    ),
    ("POST", "/api/v1/invoice-runs/{run_id}/generate"): Case(
        ADMIN, lambda w, u: Req(params={"run_id": _run(w)}, json={})
    ),
    ("POST", "/api/v1/invoice-runs/{run_id}/send"): Case(
        ADMIN, lambda w, u: Req(params={"run_id": _run(w)}), 409
    ),
    # Agreements: admins and approvers read them (prices, like invoices); admins change them.
    ("GET", "/api/v1/agreements"): Case(
        APPROVE, lambda w, u: Req(listed_id=_agreement(w).params["agreement_id"])
    ),
    ("POST", "/api/v1/agreements"): Case(
        ADMIN,
        lambda w, u: Req(
            json={
                "client_id": str(w.client.id),
                "name": f"Backup {_uniq()}",
                "starts_on": "2026-11-01",
                "lines": [{"description": "Backup seat", "quantity": 3, "unit_amount": 900}],
            }
        ),
        201,
    ),
    ("GET", "/api/v1/agreements/{agreement_id}"): Case(
        APPROVE, lambda w, u: Req(params={"agreement_id": _agreement(w).params["agreement_id"]})
    ),
    ("PATCH", "/api/v1/agreements/{agreement_id}"): Case(
        ADMIN,
        lambda w, u: Req(
            params={"agreement_id": _agreement(w).params["agreement_id"]},
            json={"name": "Renamed agreement"},
        ),
    ),
    ("DELETE", "/api/v1/agreements/{agreement_id}"): Case(
        ADMIN,
        lambda w, u: Req(params={"agreement_id": _agreement(w).params["agreement_id"]}),
        204,
    ),
    ("POST", "/api/v1/agreements/{agreement_id}/lines"): Case(
        ADMIN,
        lambda w, u: Req(
            params={"agreement_id": _agreement(w).params["agreement_id"]},
            json={"description": "Backup seat", "quantity": 2, "unit_amount": 900},
        ),
        201,
    ),
    ("POST", "/api/v1/agreements/{agreement_id}/lines/{line_id}/changes"): Case(
        ADMIN,
        lambda w, u: Req(
            params=_agreement(w).params, json={"effective_from": "2026-12-01", "quantity": 7}
        ),
        201,
    ),
    ("GET", "/api/v1/agreements/{agreement_id}/preview"): Case(
        APPROVE, lambda w, u: Req(params={"agreement_id": _agreement(w).params["agreement_id"]})
    ),
    # The org's own Regentra subscription: billing is off on the test server (every org
    # active), so subscribing is refused in words (409) for A and B alike.
    ("GET", "/api/v1/billing"): Case(ADMIN, lambda w, u: Req()),
    ("POST", "/api/v1/billing/checkout"): Case(
        ADMIN, lambda w, u: Req(json={"plan": "starter"}), 409, other_org=409
    ),
    ("POST", "/api/v1/billing/plan"): Case(
        ADMIN, lambda w, u: Req(json={"plan": "pro"}), 409, other_org=409
    ),
    ("POST", "/api/v1/billing/cancel"): Case(ADMIN, lambda w, u: Req(), 409, other_org=409),
    ("POST", "/api/v1/billing/resume"): Case(ADMIN, lambda w, u: Req(), 409, other_org=409),
    ("POST", "/api/v1/billing/portal"): Case(ADMIN, lambda w, u: Req(), 409, other_org=409),
    ("GET", "/api/v1/users"): Case(ADMIN, lambda w, u: Req(listed_id=str(w.users["admin"].id))),
    ("POST", "/api/v1/users"): Case(
        ADMIN,
        lambda w, u: Req(
            json={
                "email": f"new-{_uniq()}@example.com",
                "password": "long-enough-password",
                "role": "technician",
            }
        ),
        201,
    ),
    ("PATCH", "/api/v1/users/{user_id}"): Case(
        ADMIN,
        lambda w, u: Req(params=_member(w).params, json={"name": "Renamed", "role": "approver"}),
    ),
    ("POST", "/api/v1/users/{user_id}/deactivate"): Case(ADMIN, lambda w, u: _member(w)),
    ("POST", "/api/v1/users/{user_id}/password-reset"): Case(ADMIN, lambda w, u: _member(w), 201),
    ("POST", "/api/v1/users/{user_id}/reactivate"): Case(
        ADMIN, lambda w, u: _member(w, active=False)
    ),
}


def api_routes() -> set[tuple[str, str]]:
    """Every /api/v1 operation the app serves, read from its OpenAPI document."""
    schema = create_app().openapi()
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1")
        for method in operations
    }


def test_every_api_route_has_a_case() -> None:
    routes = api_routes()
    assert routes, "no /api/v1 routes found"
    missing = routes - set(CASES)
    stale = set(CASES) - routes
    assert not missing, f"routes without a role/isolation case: {sorted(missing)}"
    assert not stale, f"cases for routes that no longer exist: {sorted(stale)}"


@pytest.fixture
def world(make_org: Any) -> World:
    kit = make_org()
    users = {
        "admin": kit.admin,
        "approver": kit.add_user("approver"),
        "technician": kit.add_user("technician"),
    }
    client = kit.client()
    return World(kit, users, kit.add_user("technician"), client, kit.ticket(client))


@pytest.fixture
def intruder(make_org: Any) -> Any:
    return make_org("Intruder MSP")


def _call(api: Any, method: str, path: str, req: Req) -> Any:
    values = {k: str(v) for k, v in req.params.items()}
    url = path.removeprefix("/api/v1").format(**values)
    query = {k: v for k, v in values.items() if "{" + k + "}" not in path}
    return api.request(method, url, json=req.json, params=query or None)


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize(("method", "path"), sorted(CASES))
def test_role_rights(world: World, role: str, method: str, path: str) -> None:
    case = CASES[(method, path)]
    user = world.users[role]
    req = case.build(world, user)
    with world.kit.api(user) as api:
        response = _call(api, method, path, req)
    if role in case.roles:
        assert response.status_code == case.expect, response.text
        if req.listed_id:
            assert req.listed_id in {item["id"] for item in response.json()["items"]}
        if path.endswith("bulk-approve"):
            assert response.json()["failed"] == [], response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), sorted(CASES))
def test_other_org_never_reaches_our_rows(
    world: World, intruder: Any, method: str, path: str
) -> None:
    """Org B's admin (every right in B) aims at org A's objects."""
    case = CASES[(method, path)]
    # Build the request with A's objects, as A's most capable role for this route would.
    owner = world.users["admin"] if "admin" in case.roles else world.users["technician"]
    req = case.build(world, owner)
    with intruder.api() as api:
        response = _call(api, method, path, req)
        if req.params:
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "not_found"
            return
        if req.listed_id:
            assert response.status_code == 200
            assert req.listed_id not in {item["id"] for item in response.json()["items"]}
            return
        body = response.text
        assert str(world.kit.org.id) not in body
        assert world.kit.org.name not in body
        if case.other_org is not None:
            assert response.status_code == case.other_org, body
        elif path.endswith("bulk-approve"):
            assert response.status_code == 200
            assert response.json()["approved"] == []
            assert response.json()["failed"][0]["error"]["code"] == "not_found"
        elif req.json and any(k in req.json for k in ("client_id", "ticket_id")):
            # A's client or ticket named in a body is unknown to B: refused, nothing made.
            assert response.status_code == 422, body
        else:
            assert response.status_code in (200, 201), body
    # Whatever B did, A's rows are unchanged in A's view.
    with world.kit.api() as api_a:
        if path.endswith("bulk-approve"):
            entry_id = req.json["ids"][0] if req.json else ""
            assert api_a.get(f"/time-entries/{entry_id}").json()["status"] == "submitted"
