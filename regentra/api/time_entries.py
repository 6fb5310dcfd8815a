from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter

from regentra.api import serialize
from regentra.api.deps import ApproverUser, CurrentOrg, CurrentUser, SessionDep
from regentra.time_entries import service
from regentra.time_entries.schemas import (
    BulkApproveBody,
    RejectBody,
    TimeEntryCreate,
    TimeEntryUpdate,
)

router = APIRouter(prefix="/time-entries", tags=["time entries"])

Status = Literal["draft", "submitted", "approved", "rejected"]


@router.post("", status_code=201)
def create_entry(
    body: TimeEntryCreate, session: SessionDep, user: CurrentUser, org: CurrentOrg
) -> dict[str, Any]:
    return serialize.time_entry(service.create(session, org=org, user=user, data=body))


@router.get("")
def list_entries(
    session: SessionDep,
    user: CurrentUser,
    status: Status | None = None,
    technician_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    ticket_id: uuid.UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    page = service.list_entries(
        session,
        user=user,
        status=status,
        technician_id=technician_id,
        client_id=client_id,
        ticket_id=ticket_id,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        cursor=cursor,
    )
    return page.map(serialize.time_entry)


@router.post("/bulk-approve")
def bulk_approve(
    body: BulkApproveBody, session: SessionDep, user: ApproverUser, org: CurrentOrg
) -> dict[str, Any]:
    result = service.bulk_approve(session, org=org, user=user, entry_ids=body.ids)
    return {
        "approved": [serialize.time_entry(e) for e in result.approved],
        "failed": [
            {"id": str(entry_id), "error": {"code": exc.code, "message": exc.message}}
            for entry_id, exc in result.failed
        ],
    }


@router.get("/{entry_id}")
def get_entry(entry_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return serialize.time_entry(service.get(session, user=user, entry_id=entry_id))


@router.patch("/{entry_id}")
def update_entry(
    entry_id: uuid.UUID,
    body: TimeEntryUpdate,
    session: SessionDep,
    user: CurrentUser,
    org: CurrentOrg,
) -> dict[str, Any]:
    entry = service.edit(session, org=org, user=user, entry_id=entry_id, data=body)
    return serialize.time_entry(entry)


@router.post("/{entry_id}/submit")
def submit_entry(entry_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return serialize.time_entry(service.submit(session, user=user, entry_id=entry_id))


@router.post("/{entry_id}/approve")
def approve_entry(
    entry_id: uuid.UUID, session: SessionDep, user: ApproverUser, org: CurrentOrg
) -> dict[str, Any]:
    return serialize.time_entry(service.approve(session, org=org, user=user, entry_id=entry_id))


@router.post("/{entry_id}/reject")
def reject_entry(
    entry_id: uuid.UUID,
    body: RejectBody,
    session: SessionDep,
    user: ApproverUser,
    org: CurrentOrg,
) -> dict[str, Any]:
    entry = service.reject(session, org=org, user=user, entry_id=entry_id, reason=body.reason)
    return serialize.time_entry(entry)


@router.post("/{entry_id}/unapprove")
def unapprove_entry(
    entry_id: uuid.UUID, session: SessionDep, user: ApproverUser, org: CurrentOrg
) -> dict[str, Any]:
    return serialize.time_entry(service.unapprove(session, org=org, user=user, entry_id=entry_id))
