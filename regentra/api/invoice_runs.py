"""Month-end invoice runs: list the period's clients with approved, uninvoiced time, make a
draft each in one action, then send them all in the background. Admins only (invoices)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from regentra.api.deps import AdminUser, CurrentOrg, SessionDep
from regentra.api.responses import BODY, CONFLICT, FOUND, PARAMS, ROLE, errors
from regentra.api.schemas import Page
from regentra.invoice_runs import service

router = APIRouter(prefix="/invoice-runs", tags=["invoices"])


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str | None = Field(
        default=None, description="A month, YYYY-MM (default: last month, the org's time zone)"
    )
    period_start: date | None = Field(default=None, description="Or a period's first day …")
    period_end: date | None = Field(default=None, description="… and its last day")

    @model_validator(mode="after")
    def _one_period(self) -> RunCreate:
        if self.period and (self.period_start or self.period_end):
            raise ValueError("give either period or period_start and period_end")
        if (self.period_start is None) != (self.period_end is None):
            raise ValueError("give both period_start and period_end")
        return self


class RunGenerate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=service.MAX_CLIENTS,
        description=(
            "The ticked clients (default: every client the run lists); an agreement billed "
            "on its own invoice is ticked by its agreement_id"
        ),
    )


class RunTotal(BaseModel):
    currency: str
    amount: int = Field(description="Minor units")
    minutes: int = Field(description="The ticked clients' time billed in this currency")


class RunProgress(BaseModel):
    counts: dict[str, int] = Field(description="Clients by state")
    to_send: int = Field(description="Drafts queued, sent or failed to send")
    done: int = Field(description="Of which sent or failed")
    refused: int = Field(
        default=0,
        description="Of the failed, how many were refused because the org's Regentra "
        "subscription does not allow sending (canceled, or the trial is over)",
    )


class RunItemOut(BaseModel):
    client_id: uuid.UUID
    client_name: str
    agreement_id: uuid.UUID | None = Field(
        default=None,
        description="An agreement billed on an invoice of its own; null: the client's invoice",
    )
    currency: str
    entries: int
    minutes: int
    amount: int = Field(description="As listed when the run was made (minor units)")
    included: bool
    state: str = Field(
        description="listed, excluded, nothing (billed meanwhile), draft, sending, sent, failed"
    )
    invoice_id: uuid.UUID | None
    invoice_number: str | None
    error: str | None = Field(description="Why generating or sending failed")
    refused: bool = Field(
        default=False,
        description="Sending was refused because the org's Regentra subscription does not "
        "allow it (canceled, or the trial is over): `error` says why and what to do",
    )


class RunOut(BaseModel):
    id: uuid.UUID
    period_start: date
    period_end: date
    status: str = Field(description="review, generated, sending, done")
    created_at: datetime
    send_requested_at: datetime | None
    finished_at: datetime | None
    totals: list[RunTotal] = Field(description="The ticked clients' amounts, per currency")
    minutes: int = Field(description="The ticked clients' time")
    progress: RunProgress
    send_refused: str | None = Field(
        default=None,
        description="Why sending invoices is refused right now (the org's Regentra "
        "subscription is canceled, or its trial is over), else null",
    )
    items: list[RunItemOut]


class RunListed(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    period_start: date
    period_end: date
    status: str
    created_at: datetime


@router.post("", status_code=201, responses=errors(ROLE, BODY, CONFLICT))
def create_run(body: RunCreate, session: SessionDep, user: AdminUser, org: CurrentOrg) -> RunOut:
    """A run for a period: every client with approved, billable, uninvoiced time in it."""
    if body.period:
        start, end = service.month(body.period)
    elif body.period_start and body.period_end:
        start, end = body.period_start, body.period_end
    else:
        start, end = service.last_month(org)
    run = service.create(session, org=org, user=user, period_start=start, period_end=end)
    return RunOut.model_validate(service.describe(session, run))


@router.get("", responses=errors(ROLE, PARAMS))
def list_runs(
    session: SessionDep, user: AdminUser, limit: int | None = None, cursor: str | None = None
) -> Page[RunListed]:
    """The org's runs, newest first."""
    page = service.list_runs(session, org_id=user.org_id, limit=limit, cursor=cursor)
    return Page[RunListed].model_validate(page)


@router.get("/{run_id}", responses=errors(ROLE, FOUND, PARAMS))
def get_run(run_id: uuid.UUID, session: SessionDep, user: AdminUser) -> RunOut:
    run = service.get(session, org_id=user.org_id, run_id=run_id)
    return RunOut.model_validate(service.describe(session, run))


@router.post("/{run_id}/generate", responses=errors(ROLE, FOUND, PARAMS, BODY, CONFLICT))
def generate_run(
    run_id: uuid.UUID,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
    body: RunGenerate | None = None,
) -> RunOut:
    """One draft per ticked client; again: only the drafts still missing."""
    client_ids = body.client_ids if body is not None else None
    run = service.generate(session, org=org, user=user, run_id=run_id, client_ids=client_ids)
    return RunOut.model_validate(service.describe(session, run))


@router.post("/{run_id}/send", status_code=202, responses=errors(ROLE, FOUND, PARAMS, CONFLICT))
def send_run(run_id: uuid.UUID, session: SessionDep, user: AdminUser, org: CurrentOrg) -> RunOut:
    """Send the drafts (and retry the failed ones) in the background; follow `progress`."""
    run = service.request_send(session, org=org, user=user, run_id=run_id)
    return RunOut.model_validate(service.describe(session, run))
