"""Domain objects as API JSON, in the domain's words (snake_case, money in minor units)."""

from __future__ import annotations

from typing import Any

from regentra.kit.money import amount_for
from regentra.models import (
    AuditEvent,
    CatalogItem,
    CatalogSync,
    Client,
    Invoice,
    InvoiceLine,
    Org,
    Ticket,
    TimeEntry,
    User,
)


def user(u: User) -> dict[str, Any]:
    return {
        "id": str(u.id),
        "org_id": str(u.org_id),
        "email": u.email,
        "name": u.name,
        "role": u.role,
        "is_active": u.is_active,
    }


def org(o: Org) -> dict[str, Any]:
    return {
        "id": str(o.id),
        "name": o.name,
        "slug": o.slug,
        "timezone": o.timezone,
        "default_currency": o.default_currency,
        "default_hourly_rate": o.default_hourly_rate,
        "allow_self_approval": o.allow_self_approval,
    }


def client(c: Client) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "name": c.name,
        "billing_email": c.billing_email,
        "currency": c.currency,
        "hourly_rate": c.hourly_rate,
        "compliance_enabled": c.compliance_enabled,
        "created_at": c.created_at.isoformat(),
    }


def ticket(t: Ticket) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "client_id": str(t.client_id),
        "title": t.title,
        "status": t.status,
        "created_at": t.created_at.isoformat(),
    }


def time_entry(e: TimeEntry) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "ticket_id": str(e.ticket_id),
        "client_id": str(e.client_id),
        "technician_id": str(e.technician_id),
        "work_date": e.work_date.isoformat(),
        "minutes": e.minutes,
        "description": e.description,
        "billable": e.billable,
        "hourly_rate": e.hourly_rate,
        "catalog_item_id": str(e.catalog_item_id) if e.catalog_item_id else None,
        "currency": e.currency,
        "amount": amount_for(e.hourly_rate, e.minutes) if e.billable else 0,
        "status": e.status,
        "submitted_at": e.submitted_at.isoformat() if e.submitted_at else None,
        "decided_by_id": str(e.decided_by_id) if e.decided_by_id else None,
        "decided_at": e.decided_at.isoformat() if e.decided_at else None,
        "rejection_reason": e.rejection_reason,
        "invoice_id": str(e.invoice_id) if e.invoice_id else None,
        "created_at": e.created_at.isoformat(),
        "updated_at": e.updated_at.isoformat(),
    }


def audit_event(a: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "actor_type": a.actor_type,
        "actor_user_id": str(a.actor_user_id) if a.actor_user_id else None,
        "actor": a.actor_label,
        "action": a.action,
        "subject_type": a.subject_type,
        "subject_id": a.subject_id,
        "details": a.details,
        "created_at": a.created_at.isoformat(),
    }


def catalog_item(i: CatalogItem) -> dict[str, Any]:
    return {
        "id": str(i.id),
        "name": i.name,
        "description": i.description,
        "unit_amount": i.unit_amount,
        "currency": i.currency,
        "recurring_interval": i.recurring_interval,
        "recurring_interval_count": i.recurring_interval_count,
        "active": i.active,
        "source": i.source,
        "stripe_product_id": i.stripe_product_id,
        "stripe_price_id": i.stripe_price_id,
        "created_at": i.created_at.isoformat(),
        "updated_at": i.updated_at.isoformat(),
    }


def catalog_sync(s: CatalogSync) -> dict[str, Any]:
    return {
        "id": str(s.id),
        "status": s.status,
        "seen": s.seen,
        "total": s.total,
        "error": s.error,
        "started_at": s.started_at.isoformat() if s.started_at else None,
        "finished_at": s.finished_at.isoformat() if s.finished_at else None,
        "created_at": s.created_at.isoformat(),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def invoice(i: Invoice, *, client_name: str | None = None) -> dict[str, Any]:
    return {
        "id": str(i.id),
        "number": i.number,
        "client_id": str(i.client_id),
        **({"client_name": client_name} if client_name is not None else {}),
        "status": i.status,
        "currency": i.currency,
        "total": i.total,
        "period_start": _iso(i.period_start),
        "period_end": _iso(i.period_end),
        "days_until_due": i.days_until_due,
        "memo": i.memo,
        "stripe_invoice_id": i.stripe_invoice_id,
        "hosted_invoice_url": i.hosted_invoice_url,
        "due_date": _iso(i.due_date),
        "sent_at": _iso(i.sent_at),
        "paid_at": _iso(i.paid_at),
        "amount_paid": i.amount_paid,
        "overdue_at": _iso(i.overdue_at),
        "voided_at": _iso(i.voided_at),
        "payment_processing": i.payment_processing_at is not None,
        "payment_processing_at": _iso(i.payment_processing_at),
        "created_at": i.created_at.isoformat(),
        "updated_at": i.updated_at.isoformat(),
    }


def invoice_line(line: InvoiceLine) -> dict[str, Any]:
    return {
        "id": str(line.id),
        "position": line.position,
        "kind": line.kind,
        "description": line.description,
        "time_entry_id": str(line.time_entry_id) if line.time_entry_id else None,
        "catalog_item_id": str(line.catalog_item_id) if line.catalog_item_id else None,
        "work_date": _iso(line.work_date),
        "ticket_id": str(line.ticket_id) if line.ticket_id else None,
        "ticket_title": line.ticket_title,
        "technician_id": str(line.technician_id) if line.technician_id else None,
        "technician_name": line.technician_name,
        "minutes": line.minutes,
        "hours": f"{line.minutes / 60:.2f}" if line.minutes is not None else None,
        "quantity": line.quantity,
        "unit_amount": line.unit_amount,
        "amount": line.amount,
    }
