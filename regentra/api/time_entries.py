from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter

from regentra.api.deps import ApproverUser, CurrentOrg, CurrentUser, SessionDep
from regentra.api.responses import BODY, CONFLICT, FOUND, PARAMS, ROLE, ErrorInfo, errors
from regentra.api.schemas import BulkApproveResult, BulkFailure, Page
from regentra.models import EntryStatus
from regentra.time_entries import service
from regentra.time_entries.schemas import (
    BulkApproveBody,
    RejectBody,
    TimeEntryCreate,
    TimeEntryOut,
    TimeEntryUpdate,
)

router = APIRouter(prefix="/time-entries", tags=["time entries"])


@router.post("", status_code=201, responses=errors(ROLE, BODY, CONFLICT))
def create_entry(
    body: TimeEntryCreate, session: SessionDep, user: CurrentUser, org: CurrentOrg
) -> TimeEntryOut:
    return TimeEntryOut.model_validate(service.create(session, org=org, user=user, data=body))


@router.get("", responses=errors(PARAMS))
def list_entries(
    session: SessionDep,
    user: CurrentUser,
    status: EntryStatus | None = None,
    technician_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    ticket_id: uuid.UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[TimeEntryOut]:
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
    return Page[TimeEntryOut].model_validate(page)


@router.post("/bulk-approve", responses=errors(ROLE, BODY))
def bulk_approve(
    body: BulkApproveBody, session: SessionDep, user: ApproverUser, org: CurrentOrg
) -> BulkApproveResult:
    result = service.bulk_approve(session, org=org, user=user, entry_ids=body.ids)
    return BulkApproveResult(
        approved=[TimeEntryOut.model_validate(e) for e in result.approved],
        failed=[
            BulkFailure(id=entry_id, error=ErrorInfo(code=exc.code, message=exc.message))
            for entry_id, exc in result.failed
        ],
    )


@router.get("/{entry_id}", responses=errors(FOUND, PARAMS))
def get_entry(entry_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> TimeEntryOut:
    return TimeEntryOut.model_validate(service.get(session, user=user, entry_id=entry_id))


@router.patch("/{entry_id}", responses=errors(ROLE, FOUND, PARAMS, BODY, CONFLICT))
def update_entry(
    entry_id: uuid.UUID,
    body: TimeEntryUpdate,
    session: SessionDep,
    user: CurrentUser,
    org: CurrentOrg,
) -> TimeEntryOut:
    entry = service.edit(session, org=org, user=user, entry_id=entry_id, data=body)
    return TimeEntryOut.model_validate(entry)


@router.post("/{entry_id}/submit", responses=errors(ROLE, FOUND, PARAMS, CONFLICT))
def submit_entry(entry_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> TimeEntryOut:
    return TimeEntryOut.model_validate(service.submit(session, user=user, entry_id=entry_id))


@router.post("/{entry_id}/recall", responses=errors(ROLE, FOUND, PARAMS, CONFLICT))
def recall_entry(entry_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> TimeEntryOut:
    """Take a submitted entry back to draft, before an approver decides (its technician or
    an admin)."""
    return TimeEntryOut.model_validate(service.recall(session, user=user, entry_id=entry_id))


@router.post("/{entry_id}/approve", responses=errors(ROLE, FOUND, PARAMS, CONFLICT))
def approve_entry(
    entry_id: uuid.UUID, session: SessionDep, user: ApproverUser, org: CurrentOrg
) -> TimeEntryOut:
    entry = service.approve(session, org=org, user=user, entry_id=entry_id)
    return TimeEntryOut.model_validate(entry)


@router.post("/{entry_id}/reject", responses=errors(ROLE, FOUND, PARAMS, BODY, CONFLICT))
def reject_entry(
    entry_id: uuid.UUID,
    body: RejectBody,
    session: SessionDep,
    user: ApproverUser,
    org: CurrentOrg,
) -> TimeEntryOut:
    entry = service.reject(session, org=org, user=user, entry_id=entry_id, reason=body.reason)
    return TimeEntryOut.model_validate(entry)


@router.post("/{entry_id}/unapprove", responses=errors(ROLE, FOUND, PARAMS, CONFLICT))
def unapprove_entry(
    entry_id: uuid.UUID, session: SessionDep, user: ApproverUser, org: CurrentOrg
) -> TimeEntryOut:
    entry = service.unapprove(session, org=org, user=user, entry_id=entry_id)
    return TimeEntryOut.model_validate(entry)
