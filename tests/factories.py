"""Factories for set-up: an org with its admin (`make_org()` in conftest gives the factory),
then users, clients, tickets and time entries in any state, made through the domain services
inside the test's own transaction (no HTTP, cheap password hashing), so every invariant and
audit entry the product keeps holds for them too.

`kit.api(user)` is an API client authenticated as `user`: the app in-process, or a live
server's when the kit was made for one (e2e).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from sqlalchemy.orm import Session

from regentra.audit.service import Actor
from regentra.auth import tokens
from regentra.clients import service as clients_service
from regentra.clients.schemas import ClientCreate
from regentra.models import Client, Org, Ticket, TimeEntry, User
from regentra.orgs import service as orgs_service
from regentra.tickets import service as tickets_service
from regentra.tickets.schemas import TicketCreate
from regentra.time_entries import service as entries_service
from regentra.time_entries.schemas import TimeEntryCreate

PASSWORD = "correct-horse-battery"


@dataclass
class OrgKit:
    """One org made through the services, with helpers to add what a test needs."""

    db: Any  # conftest.Database: the test's transaction, or a committing one (e2e)
    server: Any
    org: Org
    admin: User
    _tokens: dict[uuid.UUID, str] = field(default_factory=dict)

    def _commit(self, fn: Callable[[Session], Any]) -> Any:
        with self.db.session() as session:
            result = fn(session)
            session.commit()
            return result

    def add_user(self, role: str, email: str | None = None, password: str = PASSWORD) -> User:
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@{self.org.slug}.example.com"
        return self._commit(  # type: ignore[no-any-return]
            lambda s: orgs_service.add_user(
                s,
                org_id=self.org.id,
                email=email,
                password=password,
                role=role,
                name=f"{role.title()} {email[:6]}",
                actor=Actor.system(),
            )
        )

    def client(self, name: str | None = None, **kw: Any) -> Client:
        data = ClientCreate(
            name=name or f"Client {uuid.uuid4().hex[:6]}",
            billing_email=kw.pop("billing_email", "ap@client.example.com"),
            **kw,
        )
        return self._commit(  # type: ignore[no-any-return]
            lambda s: clients_service.create(
                s, org=s.get(Org, self.org.id), data=data, actor=Actor.of(self.admin)
            )
        )

    def ticket(self, client: Client | None = None, title: str = "Printer on fire") -> Ticket:
        client = client or self.client()
        data = TicketCreate(client_id=client.id, title=title)
        return self._commit(  # type: ignore[no-any-return]
            lambda s: tickets_service.create(
                s, org_id=self.org.id, data=data, actor=Actor.of(self.admin)
            )
        )

    def entry(
        self,
        technician: User,
        ticket: Ticket | None = None,
        minutes: int = 60,
        status: str = "draft",
        approver: User | None = None,
        work_date: date | None = None,
    ) -> TimeEntry:
        ticket = ticket or self.ticket()

        def make(s: Session) -> TimeEntry:
            org = s.get(Org, self.org.id)
            assert org is not None
            tech = s.get(User, technician.id)
            assert tech is not None
            data = TimeEntryCreate(
                ticket_id=ticket.id,
                work_date=work_date or date.today(),
                minutes=minutes,
                description="work",
            )
            entry = entries_service.create(s, org=org, user=tech, data=data)
            if status in ("submitted", "approved", "rejected"):
                entries_service.submit(s, user=tech, entry_id=entry.id)
            if status in ("approved", "rejected"):
                who = s.get(User, (approver or self.admin).id)
                assert who is not None
                if status == "approved":
                    entries_service.approve(s, org=org, user=who, entry_id=entry.id)
                else:
                    entries_service.reject(
                        s, org=org, user=who, entry_id=entry.id, reason="not billable"
                    )
            return entry

        return self._commit(make)  # type: ignore[no-any-return]

    def token(self, user: User) -> str:
        if user.id not in self._tokens:
            self._tokens[user.id] = self._commit(
                lambda s: tokens.create_token(s, user=s.get(User, user.id), name="test")[1]
            )
        return self._tokens[user.id]

    def api(self, user: User | None = None) -> httpx.Client:
        """An API client authenticated as `user` (default: admin): in-process, or for the
        live server when the kit was made for one."""
        assert self.server is not None, "this OrgKit was made without a server"
        headers = {"Authorization": f"Bearer {self.token(user or self.admin)}"}
        if hasattr(self.server, "http"):  # the in-process `site`
            return self.server.http("/api/v1", headers=headers)  # type: ignore[no-any-return]
        return httpx.Client(base_url=self.server.url + "/api/v1", headers=headers, timeout=30)


def _org_factory(database: Any, server: Any) -> Callable[..., OrgKit]:
    def make(name: str | None = None) -> OrgKit:
        name = name or f"MSP {uuid.uuid4().hex[:8]}"
        with database.session() as session:
            org, admin = orgs_service.create_org(
                session,
                name=name,
                admin_email=f"admin-{uuid.uuid4().hex[:8]}@example.com",
                admin_password=PASSWORD,
                default_hourly_rate=15000,
            )
            session.commit()
        return OrgKit(database, server, org, admin)

    return make
