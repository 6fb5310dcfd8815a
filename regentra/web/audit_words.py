"""The audit log in people's words: who acted (a name, not an email or a type), what the
subject is (a client's name, an invoice's number, a ticket's title, with a link), and the
details with money formatted, ids turned into names and no raw Python values.

`Presenter.load` reads the names for a page of events at once (one query per kind of
subject, each through the org's own rows), so a page is a handful of queries.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.catalog.service import items as catalog_items
from regentra.clients.service import clients
from regentra.invoices.service import invoices
from regentra.kit.money import format_money
from regentra.models import AuditEvent, Client, Invoice, InvoiceRun, Org, Ticket, TimeEntry
from regentra.models.catalog_item import CatalogItem
from regentra.orgs.service import users
from regentra.tickets.service import tickets
from regentra.time_entries.service import entries
from regentra.web.templating import format_duration

SYSTEM_ACTORS = {"system": "Regentra", "stripe": "Stripe", "quickbooks": "QuickBooks"}

# Details keys holding minor units of money (formatted in the event's currency).
MONEY_KEYS = frozenset(
    {
        "amount",
        "amount_due",
        "amount_paid",
        "amount_refunded",
        "total",
        "fee",
        "net",
        "unit_amount",
        "hourly_rate",
        "default_hourly_rate",
    }
)

# How people say the field names services record.
WORDS = {
    "days_until_due": "payment terms",
    "due_date": "due date",
    "billing_email": "billing email",
    "hourly_rate": "hourly rate",
    "default_hourly_rate": "default hourly rate",
    "default_currency": "default currency",
    "compliance_enabled": "compliance",
    "unit_amount": "unit price",
    "amount_paid": "amount paid",
    "amount_due": "amount due",
    "work_date": "work date",
    "minutes": "duration",
    "ticket_id": "ticket",
    "client_id": "client",
    "invoice_id": "invoice",
    "catalog_item_id": "catalog item",
    "user_id": "user",
    "technician_id": "technician",
    "released_entries": "time entries released",
    "sessions_ended": "sessions ended",
    "stripe_status": "Stripe status",
    "realm_id": "QuickBooks company",
    "previous_realm_id": "previous QuickBooks company",
    "last_error": "last error",
    "expires_at": "expires",
    "ip": "IP address",
    "key_id": "key",
    "line_id": "line",
}


def say(key: str) -> str:
    """A field name as people say it: "days_until_due" → "payment terms"."""
    return WORDS.get(key, key.replace("_", " "))


def _duration(minutes: int) -> str:
    return format_duration(minutes)  # as every page shows durations (1:15)


def actor_name(event: AuditEvent, people: dict[uuid.UUID, str]) -> str:
    """Who acted, as a name: the user's display name (`people`: the org's, by id), else the
    system actor's ("Regentra", "Stripe", "QuickBooks")."""
    if event.actor_user_id is not None:
        name = people.get(event.actor_user_id)
        if name:
            return name
        return event.actor_label or "a former user"
    return SYSTEM_ACTORS.get(event.actor_type, event.actor_label or event.actor_type)


def action_words(action: str) -> str:
    """An audit action code as people read it: "invoice_run.send_requested" → "Invoice run:
    send requested", "quickbooks.posted" → "QuickBooks: posted" (the code stays on the row's
    data-action, and in the log's filter values)."""
    kind, _, verb = action.partition(".")
    noun = SYSTEM_ACTORS.get(kind) or kind.replace("_", " ").capitalize()
    return f"{noun}: {verb.replace('_', ' ').replace('.', ' ')}" if verb else noun


def people_of(session: Session, org_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The org's users' display names by id."""
    return {u.id: u.display_name for u in session.scalars(users.select(org_id)).all()}


@dataclass(frozen=True)
class Subject:
    label: str
    href: str | None = None


@dataclass(frozen=True)
class Detail:
    label: str
    text: str
    href: str | None = None


@dataclass
class Presenter:
    org: Org
    users: dict[uuid.UUID, str] = field(default_factory=dict)
    clients: dict[uuid.UUID, Client] = field(default_factory=dict)
    tickets: dict[uuid.UUID, Ticket] = field(default_factory=dict)
    invoices: dict[uuid.UUID, Invoice] = field(default_factory=dict)
    entries: dict[uuid.UUID, TimeEntry] = field(default_factory=dict)
    items: dict[uuid.UUID, CatalogItem] = field(default_factory=dict)
    runs: dict[uuid.UUID, InvoiceRun] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, org: Org, events: Iterable[AuditEvent]) -> Presenter:
        wanted: dict[str, set[uuid.UUID]] = {}

        def want(kind: str, raw: Any) -> None:
            with contextlib.suppress(ValueError):
                wanted.setdefault(kind, set()).add(uuid.UUID(str(raw)))

        for event in events:
            want(event.subject_type, event.subject_id)
            for key, value in (event.details or {}).items():
                if key.endswith("_id") and isinstance(value, str):
                    want(key.removesuffix("_id"), value)
        me = cls(org)
        org_id = org.id
        me.users = people_of(session, org_id)

        def fetch(repo: Any, model: Any, kind: str) -> dict[uuid.UUID, Any]:
            ids = wanted.get(kind)
            if not ids:
                return {}
            rows = session.scalars(repo.select(org_id).where(model.id.in_(ids))).all()
            return {row.id: row for row in rows}

        me.clients = fetch(clients, Client, "client")
        me.invoices = fetch(invoices, Invoice, "invoice")
        me.entries = fetch(entries, TimeEntry, "time_entry")
        ticket_ids = wanted.get("ticket", set()) | {e.ticket_id for e in me.entries.values()}
        if ticket_ids:
            stmt = tickets.select(org_id).where(Ticket.id.in_(ticket_ids))
            me.tickets = {t.id: t for t in session.scalars(stmt).all()}
        me.items = fetch(catalog_items, CatalogItem, "catalog_item")
        if run_ids := wanted.get("invoice_run"):
            stmt_runs = select(InvoiceRun).where(
                InvoiceRun.org_id == org_id, InvoiceRun.id.in_(run_ids)
            )
            me.runs = {r.id: r for r in session.scalars(stmt_runs).all()}
        return me

    # ---- who ----

    def who(self, event: AuditEvent) -> str:
        return actor_name(event, self.users)

    @staticmethod
    def action(code: str) -> str:
        return action_words(code)

    # ---- what ----

    def subject(self, kind: str, raw_id: str) -> Subject:
        try:
            key = uuid.UUID(raw_id)
        except ValueError:
            key = None
        words = kind.replace("_", " ")
        if key is None:
            return Subject(words.capitalize())
        if kind == "client" and (client := self.clients.get(key)):
            return Subject(client.name, f"/clients/{key}")
        if kind == "ticket" and (ticket := self.tickets.get(key)):
            return Subject(f"Ticket “{ticket.title}”", f"/tickets/{key}")
        if kind == "invoice" and (invoice := self.invoices.get(key)):
            return Subject(f"Invoice {invoice.number}", f"/invoices/{key}")
        if kind == "time_entry" and (entry := self.entries.get(key)):
            on = self.tickets.get(entry.ticket_id)
            title = f" on “{on.title}”" if on else ""
            when = entry.work_date.isoformat()
            return Subject(
                f"Time entry{title}, {when} ({_duration(entry.minutes)})",
                f"/tickets/{entry.ticket_id}",
            )
        if kind == "user" and key in self.users:
            return Subject(self.users[key], "/users")
        if kind == "catalog_item" and (item := self.items.get(key)):
            return Subject(f"Catalog item “{item.name}”", f"/catalog/{key}/edit")
        if kind == "invoice_run" and key in self.runs:
            return Subject("Invoice run", f"/invoice-runs/{key}")
        if kind == "org":
            return Subject(f"Organization {self.org.name}", "/settings")
        if kind in ("stripe_connection", "quickbooks_connection"):
            vendor = "Stripe" if kind.startswith("stripe") else "QuickBooks"
            return Subject(f"{vendor} connection", "/integrations")
        if kind == "catalog_sync":
            return Subject("Catalog sync", "/catalog")
        return Subject(f"{words.capitalize()} (no longer exists)")

    # ---- details ----

    def currency_of(self, event: AuditEvent) -> str:
        details = event.details or {}
        if isinstance(details.get("currency"), str) and len(details["currency"]) == 3:
            return str(details["currency"]).upper()
        try:
            key = uuid.UUID(event.subject_id)
        except ValueError:
            return self.org.default_currency
        if event.subject_type == "invoice" and key in self.invoices:
            return self.invoices[key].currency
        if event.subject_type == "client" and key in self.clients:
            return self.clients[key].currency
        if event.subject_type == "time_entry" and key in self.entries:
            return self.entries[key].currency
        return self.org.default_currency

    def details(self, event: AuditEvent) -> list[Detail]:
        currency = self.currency_of(event)
        shown: list[Detail] = []
        for key, value in (event.details or {}).items():
            if key == "currency":
                continue
            if key.endswith("_id") and isinstance(value, str):
                kind = key.removesuffix("_id")
                found = self.subject(kind, value)
                if found.href:
                    shown.append(Detail(say(key), found.label, found.href))
                    continue
            shown.append(Detail(say(key), self.text(key, value, currency)))
        return shown

    def text(self, key: str, value: Any, currency: str) -> str:
        """One value in words: money formatted, durations as hours and minutes, yes/no, lists
        and changes spelled out; never a Python repr."""
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if key in MONEY_KEYS and isinstance(value, int):
            return format_money(value, currency)
        if key == "minutes" and isinstance(value, int):
            return _duration(value)
        if key == "changed" and isinstance(value, list):
            return ", ".join(say(str(v)) for v in value) or "—"
        if isinstance(value, dict):
            parts = [f"{say(str(k))} {self.text(str(k), v, currency)}" for k, v in value.items()]
            return "; ".join(parts) or "—"
        if isinstance(value, list):
            return ", ".join(self.text(key, v, currency) for v in value) or "—"
        return str(value)
