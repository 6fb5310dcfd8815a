"""Clients of the MSP."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.billing import service as billing
from regentra.clients.schemas import ClientCreate, ClientUpdate
from regentra.errors import Conflict, Invalid
from regentra.kit.money import check_currency
from regentra.kit.pagination import Page, paginate
from regentra.models import Client, Org, TimeEntry
from regentra.orgs.repository import OrgScopedRepository
from regentra.orgs.service import check_email

clients = OrgScopedRepository(Client, "client")


def _check_name_free(
    session: Session, *, org_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None
) -> None:
    stmt = select(func.count()).where(Client.org_id == org_id, Client.name == name)
    if except_id is not None:
        stmt = stmt.where(Client.id != except_id)
    if session.scalar(stmt):
        raise Conflict(f"a client named '{name}' already exists")


def create(session: Session, *, org: Org, data: ClientCreate, actor: Actor) -> Client:
    name = data.name.strip()
    if not name:
        raise Invalid("name must not be blank")
    _check_name_free(session, org_id=org.id, name=name)
    client = Client(
        org_id=org.id,
        name=name,
        billing_email=check_email(data.billing_email),
        currency=check_currency(data.currency or org.default_currency),
        hourly_rate=data.hourly_rate,
        compliance_enabled=data.compliance_enabled,
    )
    session.add(client)
    session.flush()
    record(
        session,
        org_id=org.id,
        actor=actor,
        action="client.created",
        subject_type="client",
        subject_id=client.id,
        details={"name": client.name, "currency": client.currency},
    )
    if client.compliance_enabled:
        billing.usage_changed(session, org.id)  # a compliance tenant more
    return client


def update(
    session: Session, *, org_id: uuid.UUID, client_id: uuid.UUID, data: ClientUpdate, actor: Actor
) -> Client:
    client = clients.get(session, org_id=org_id, id=client_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        changes["name"] = changes["name"].strip()
        if not changes["name"]:
            raise Invalid("name must not be blank")
        _check_name_free(session, org_id=org_id, name=changes["name"], except_id=client.id)
    if "billing_email" in changes and changes["billing_email"] is not None:
        changes["billing_email"] = check_email(changes["billing_email"])
    if "currency" in changes and changes["currency"] is not None:
        changes["currency"] = check_currency(changes["currency"])
        if changes["currency"] != client.currency:
            used = session.scalar(
                select(func.count()).where(
                    TimeEntry.org_id == org_id, TimeEntry.client_id == client.id
                )
            )
            if used:
                raise Conflict(
                    "the currency cannot change once time has been logged for the client"
                )
    for field in ("name", "billing_email", "currency", "compliance_enabled"):
        if field in changes and changes[field] is None:
            raise Invalid(f"{field} cannot be null")
    applied = {k: v for k, v in changes.items() if getattr(client, k) != v}
    for key, value in applied.items():
        setattr(client, key, value)
    if applied:
        record(
            session,
            org_id=org_id,
            actor=actor,
            action="client.updated",
            subject_type="client",
            subject_id=client.id,
            details={"changed": sorted(applied)},
        )
    if "compliance_enabled" in applied:
        billing.usage_changed(session, org_id)  # a compliance tenant more or less
    return client


def list_clients(
    session: Session, *, org_id: uuid.UUID, limit: int | None = None, cursor: str | None = None
) -> Page[Client]:
    return paginate(session, clients.select(org_id), Client.id, limit=limit, cursor=cursor)


def all_clients(session: Session, *, org_id: uuid.UUID) -> list[Client]:
    return list(session.scalars(clients.select(org_id).order_by(Client.name)).all())
