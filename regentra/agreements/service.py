"""Client agreements: made, changed from a date on, previewed; billed by invoice runs
(`agreements.billing`, `invoices.service.generate`).

A price never changes retroactively: a new unit price, like a new line, takes effect after
the last period billed. A quantity change or an end date may fall inside the last period
billed (a client drops ten endpoints on the 15th of a month billed in advance): the next run
bills the difference, prorated by days, as an adjustment (a credit when it decreases;
`billing.adjustments`). Nothing reaches further back.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra.agreements import billing
from regentra.agreements.schemas import AgreementCreate, AgreementUpdate, LineChange, LineCreate
from regentra.audit.service import Actor, record
from regentra.catalog.service import priced_item
from regentra.clients.service import clients
from regentra.errors import Conflict, Invalid
from regentra.kit.ids import new_id
from regentra.models import (
    Agreement,
    AgreementBillingRecord,
    AgreementLine,
    AgreementTerm,
    Client,
    Invoice,
    InvoiceLine,
    Org,
    QuantityRule,
    User,
)
from regentra.orgs.repository import OrgScopedRepository

agreements = OrgScopedRepository(Agreement, "agreement")
agreement_lines = OrgScopedRepository(AgreementLine, "agreement line")


def list_agreements(
    session: Session, *, org_id: uuid.UUID, client_id: uuid.UUID | None = None
) -> list[Agreement]:
    stmt = agreements.select(org_id)
    if client_id is not None:
        stmt = stmt.where(Agreement.client_id == client_id)
    return list(session.scalars(stmt.order_by(Agreement.name, Agreement.id)))


def last_billed_end(session: Session, agreement: Agreement) -> date | None:
    """The end of the last period billed (None: none yet)."""
    found: date | None = session.scalar(
        select(func.max(AgreementBillingRecord.period_end)).where(
            AgreementBillingRecord.org_id == agreement.org_id,
            AgreementBillingRecord.agreement_id == agreement.id,
        )
    )
    return found


def _check_not_billed(session: Session, agreement: Agreement, day: date, what: str) -> None:
    """422 when `day` lies in or before a period already billed: a change never rewrites
    what a client was invoiced."""
    if day < agreement.starts_on:
        raise Invalid(f"{what} cannot be before the agreement starts ({agreement.starts_on})")
    billed = last_billed_end(session, agreement)
    if billed is not None and day <= billed:
        raise Invalid(
            f"{what} must be after {billed.isoformat()}: the periods up to then are billed "
            "already, and a change never rewrites an invoiced period"
        )


def last_billed_start(session: Session, agreement: Agreement) -> date | None:
    """The start of the last period billed (None: none yet)."""
    found: date | None = session.scalar(
        select(func.max(AgreementBillingRecord.period_start)).where(
            AgreementBillingRecord.org_id == agreement.org_id,
            AgreementBillingRecord.agreement_id == agreement.id,
        )
    )
    return found


def _check_adjustable(session: Session, agreement: Agreement, day: date, what: str) -> None:
    """422 when `day` lies before the last period billed (which a run can still adjust)."""
    if day < agreement.starts_on:
        raise Invalid(f"{what} cannot be before the agreement starts ({agreement.starts_on})")
    start = last_billed_start(session, agreement)
    if start is not None and day < start:
        raise Invalid(
            f"{what} must be on or after {start.isoformat()}: earlier periods are billed and "
            "closed (the last one billed can still be adjusted)"
        )


def _first_open_day(session: Session, agreement: Agreement) -> date:
    billed = last_billed_end(session, agreement)
    return billed + timedelta(days=1) if billed is not None else agreement.starts_on


def _add_line(
    session: Session, *, org: Org, agreement: Agreement, client: Client, data: LineCreate
) -> AgreementLine:
    start = data.effective_from or _first_open_day(session, agreement)
    _check_not_billed(session, agreement, start, "The line's start date")
    description = (data.description or "").strip()
    unit = data.unit_amount
    if data.catalog_item_id is not None:
        item = priced_item(
            session,
            org_id=org.id,
            item_id=data.catalog_item_id,
            currency=client.currency,
            what=f"{client.name}'s agreement",
        )
        description = description or item.name
        unit = unit if unit is not None else item.unit_amount
    if not description:
        raise Invalid("Give the line a description, or choose a catalog item")
    if unit is None:
        raise Invalid("Give the line a unit price, or choose a catalog item with one")
    position = (
        session.scalar(
            select(func.coalesce(func.max(AgreementLine.position), 0)).where(
                AgreementLine.org_id == org.id, AgreementLine.agreement_id == agreement.id
            )
        )
        or 0
    ) + 1
    line = AgreementLine(
        id=new_id(),
        org_id=org.id,
        agreement_id=agreement.id,
        position=position,
        catalog_item_id=data.catalog_item_id,
        description=description,
        quantity_rule=data.quantity_rule,
    )
    session.add(line)
    session.flush()
    session.add(
        AgreementTerm(
            id=new_id(),
            org_id=org.id,
            line_id=line.id,
            effective_from=start,
            quantity=data.quantity,
            unit_amount=unit,
        )
    )
    session.flush()
    return line


def create(session: Session, *, org: Org, user: User, data: AgreementCreate) -> Agreement:
    client = clients.find(session, org_id=org.id, id=data.client_id)
    if client is None:
        raise Invalid("client_id does not match any client")
    name = data.name.strip()
    if not name:
        raise Invalid("Name must not be blank")
    if data.ends_on is not None and data.ends_on < data.starts_on:
        raise Invalid("The end date must not be before the start date")
    agreement = Agreement(
        id=new_id(),
        org_id=org.id,
        client_id=client.id,
        name=name,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        period=data.period,
        billing=data.billing,
        included_minutes=data.included_minutes or None,
        rollover=data.rollover,
        hourly_rate=data.hourly_rate,
        separate_invoice=data.separate_invoice,
        created_by_id=user.id,
    )
    session.add(agreement)
    session.flush()
    for line in data.lines:
        _add_line(session, org=org, agreement=agreement, client=client, data=line)
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="agreement.created",
        subject_type="agreement",
        subject_id=agreement.id,
        details={"name": name, "client_id": str(client.id), "lines": len(data.lines)},
    )
    return agreement


def update(
    session: Session, *, org: Org, user: User, agreement_id: uuid.UUID, data: AgreementUpdate
) -> Agreement:
    agreement = agreements.get(session, org_id=org.id, id=agreement_id, lock=True)
    changes: dict[str, Any] = {}
    if data.name is not None:
        name = data.name.strip()
        if not name:
            raise Invalid("Name must not be blank")
        changes["name"] = name
    if data.clear_end:
        changes["ends_on"] = None
    elif data.ends_on is not None:
        # Inside the last period billed: the next run credits the days after the end.
        if data.ends_on < agreement.starts_on:
            raise Invalid("The end date must not be before the start date")
        start = last_billed_start(session, agreement)
        if start is not None and data.ends_on < start - timedelta(days=1):
            raise Invalid(
                f"The end date must be on or after {(start - timedelta(days=1)).isoformat()}: "
                "earlier periods are billed and closed (the last one billed can still be "
                "adjusted)"
            )
        changes["ends_on"] = data.ends_on
    if data.included_minutes is not None:
        changes["included_minutes"] = data.included_minutes or None
    if data.rollover is not None:
        changes["rollover"] = data.rollover
    if data.clear_hourly_rate:
        changes["hourly_rate"] = None
    elif data.hourly_rate is not None:
        changes["hourly_rate"] = data.hourly_rate
    if data.separate_invoice is not None:
        changes["separate_invoice"] = data.separate_invoice
    for name, value in changes.items():
        setattr(agreement, name, value)
    session.flush()
    if changes:
        record(
            session,
            org_id=org.id,
            actor=Actor.of(user),
            action="agreement.updated",
            subject_type="agreement",
            subject_id=agreement.id,
            details={"changed": sorted(changes)},
        )
    return agreement


def delete(session: Session, *, org: Org, user: User, agreement_id: uuid.UUID) -> None:
    """Delete an agreement never billed, whose hours or rate no invoice line names (one
    that billed or covered time ends instead: set its end date)."""
    agreement = agreements.get(session, org_id=org.id, id=agreement_id, lock=True)
    if last_billed_end(session, agreement) is not None:
        raise Conflict(
            "This agreement has billed periods: set an end date instead of deleting it",
            code="agreement_billed",
        )
    named = session.scalar(
        select(InvoiceLine.id)
        .where(InvoiceLine.org_id == org.id, InvoiceLine.agreement_id == agreement.id)
        .limit(1)
    )
    if named is not None:
        raise Conflict(
            "Invoices bill time under this agreement (its included hours or its rate): set an "
            "end date instead of deleting it",
            code="agreement_billed",
        )
    name = agreement.name
    session.delete(agreement)
    session.flush()
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="agreement.deleted",
        subject_type="agreement",
        subject_id=agreement_id,
        details={"name": name},
    )


def add_line(
    session: Session, *, org: Org, user: User, agreement_id: uuid.UUID, data: LineCreate
) -> AgreementLine:
    agreement = agreements.get(session, org_id=org.id, id=agreement_id, lock=True)
    client = clients.get(session, org_id=org.id, id=agreement.client_id)
    line = _add_line(session, org=org, agreement=agreement, client=client, data=data)
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="agreement.line_added",
        subject_type="agreement",
        subject_id=agreement.id,
        details={"line_id": str(line.id), "description": line.description},
    )
    return line


def change_line(
    session: Session,
    *,
    org: Org,
    user: User,
    agreement_id: uuid.UUID,
    line_id: uuid.UUID,
    data: LineChange,
) -> AgreementLine:
    """A new quantity and/or unit price from `effective_from` on (the terms in force then
    otherwise), never inside a period already billed; a quantity of 0 stops the line."""
    agreement = agreements.get(session, org_id=org.id, id=agreement_id, lock=True)
    line = agreement_lines.find(session, org_id=org.id, id=line_id)
    if line is None or line.agreement_id != agreement.id:
        raise Invalid("line_id does not match a line of this agreement")
    if data.quantity is None and data.unit_amount is None and data.description is None:
        raise Invalid("Give a new quantity, unit price or description")
    if data.quantity is not None and line.quantity_rule == QuantityRule.open_tickets.value:
        raise Invalid("This line counts the client's open tickets: its quantity is not set")
    if data.description is not None:
        line.description = data.description.strip()
    if data.quantity is not None or data.unit_amount is not None:
        if data.unit_amount is not None:  # never retroactive
            _check_not_billed(session, agreement, data.effective_from, "A price change's date")
        _check_adjustable(session, agreement, data.effective_from, "The change's date")
        terms = billing.terms_of(session, line)
        current = next(
            (t for t in reversed(terms) if t.effective_from <= data.effective_from), terms[0]
        )
        quantity = data.quantity if data.quantity is not None else current.quantity
        unit = data.unit_amount if data.unit_amount is not None else current.unit_amount
        # From this date on: a later scheduled change keeps its own date, with this one's
        # new quantity or price.
        for later in terms:
            if later.effective_from > data.effective_from:
                if data.quantity is not None:
                    later.quantity = data.quantity
                if data.unit_amount is not None:
                    later.unit_amount = data.unit_amount
        if current.effective_from == data.effective_from:
            current.quantity, current.unit_amount = quantity, unit
        else:
            session.add(
                AgreementTerm(
                    id=new_id(),
                    org_id=org.id,
                    line_id=line.id,
                    effective_from=data.effective_from,
                    quantity=quantity,
                    unit_amount=unit,
                )
            )
    session.flush()
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="agreement.line_changed",
        subject_type="agreement",
        subject_id=agreement.id,
        details={
            "line_id": str(line.id),
            "effective_from": data.effective_from.isoformat(),
            "quantity": data.quantity,
            "unit_amount": data.unit_amount,
        },
    )
    return line


def describe(session: Session, agreement: Agreement) -> dict[str, Any]:
    """The agreement with its lines, their terms, and the periods billed (with invoice
    numbers), as the API and the page show it."""
    client = clients.get(session, org_id=agreement.org_id, id=agreement.client_id)
    records = session.execute(
        select(AgreementBillingRecord, Invoice.number)
        .outerjoin(
            Invoice,
            (Invoice.id == AgreementBillingRecord.invoice_id)
            & (Invoice.org_id == agreement.org_id),
        )
        .where(
            AgreementBillingRecord.org_id == agreement.org_id,
            AgreementBillingRecord.agreement_id == agreement.id,
        )
        .order_by(AgreementBillingRecord.period_start.desc())
    ).all()
    return {
        "id": agreement.id,
        "client_id": client.id,
        "client_name": client.name,
        "currency": client.currency,
        "name": agreement.name,
        "starts_on": agreement.starts_on,
        "ends_on": agreement.ends_on,
        "period": agreement.period,
        "billing": agreement.billing,
        "included_minutes": agreement.included_minutes,
        "rollover": agreement.rollover,
        "hourly_rate": agreement.hourly_rate,
        "separate_invoice": agreement.separate_invoice,
        "created_at": agreement.created_at,
        "lines": [
            {
                "id": line.id,
                "position": line.position,
                "catalog_item_id": line.catalog_item_id,
                "description": line.description,
                "quantity_rule": line.quantity_rule,
                "terms": billing.terms_of(session, line),
            }
            for line in billing.lines_of(session, agreement)
        ],
        "billed": [
            {
                "period_start": r.period_start,
                "period_end": r.period_end,
                "invoice_id": r.invoice_id,
                "invoice_number": number,
                "amount": r.amount,
            }
            for r, number in records
        ],
    }


def preview(session: Session, agreement: Agreement) -> dict[str, Any]:
    """The first period not billed yet, as a run would bill it now (none left: no lines)."""
    client = clients.get(session, org_id=agreement.org_id, id=agreement.client_id)
    billed = billing.billed_periods(session, agreement)
    start, end = billing.period_of(agreement.period, agreement.starts_on)
    while start in billed:
        start, end = billing.period_of(agreement.period, end + timedelta(days=1))
    if agreement.ends_on is not None and start > agreement.ends_on:
        return {
            "period_start": None,
            "period_end": None,
            "currency": client.currency,
            "lines": [],
            "total": 0,
        }
    found = billing.charge(session, agreement, start, end, currency=client.currency)
    return {
        "period_start": start,
        "period_end": end,
        "currency": client.currency,
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_amount": line.unit_amount,
                "amount": line.amount,
            }
            for line in found.lines
        ],
        "total": found.total,
    }
