"""Client agreements (issue 17): the recurring services billed every period.

Admins and approvers read them (they carry prices, like invoices); only admins change them.
A change never rewrites a period already billed: the service refuses it in words (422).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from regentra.agreements import service
from regentra.agreements.schemas import (
    AgreementCreate,
    AgreementOut,
    AgreementUpdate,
    LineChange,
    LineCreate,
    PreviewOut,
)
from regentra.api.deps import AdminUser, ApproverUser, CurrentOrg, SessionDep
from regentra.api.responses import BODY, CONFLICT, FOUND, PARAMS, ROLE, errors
from regentra.api.schemas import Page
from regentra.models import Agreement

router = APIRouter(prefix="/agreements", tags=["agreements"])


def _out(session: Session, agreement: Agreement) -> AgreementOut:
    return AgreementOut.model_validate(service.describe(session, agreement))


@router.get("", responses=errors(ROLE, PARAMS))
def list_agreements(
    session: SessionDep,
    user: ApproverUser,
    client_id: uuid.UUID | None = Query(default=None, description="Only this client's"),
) -> Page[AgreementOut]:
    """Every agreement of the organization (or of one client), by name; one page."""
    found = service.list_agreements(session, org_id=user.org_id, client_id=client_id)
    return Page[AgreementOut](items=[_out(session, a) for a in found], next_cursor=None)


@router.post("", status_code=201, responses=errors(ROLE, BODY))
def create_agreement(
    body: AgreementCreate, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> AgreementOut:
    return _out(session, service.create(session, org=org, user=user, data=body))


@router.get("/{agreement_id}", responses=errors(ROLE, FOUND, PARAMS))
def get_agreement(agreement_id: uuid.UUID, session: SessionDep, user: ApproverUser) -> AgreementOut:
    agreement = service.agreements.get(session, org_id=user.org_id, id=agreement_id)
    return _out(session, agreement)


@router.patch("/{agreement_id}", responses=errors(ROLE, FOUND, PARAMS, BODY))
def update_agreement(
    agreement_id: uuid.UUID,
    body: AgreementUpdate,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> AgreementOut:
    agreement = service.update(session, org=org, user=user, agreement_id=agreement_id, data=body)
    return _out(session, agreement)


@router.delete("/{agreement_id}", status_code=204, responses=errors(ROLE, FOUND, PARAMS, CONFLICT))
def delete_agreement(
    agreement_id: uuid.UUID, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> Response:
    """Delete an agreement never billed (one with billed periods: set its end date)."""
    service.delete(session, org=org, user=user, agreement_id=agreement_id)
    return Response(status_code=204)


@router.post("/{agreement_id}/lines", status_code=201, responses=errors(ROLE, FOUND, PARAMS, BODY))
def add_line(
    agreement_id: uuid.UUID, body: LineCreate, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> AgreementOut:
    """Add a line; answers the agreement with its lines."""
    service.add_line(session, org=org, user=user, agreement_id=agreement_id, data=body)
    return _out(session, service.agreements.get(session, org_id=org.id, id=agreement_id))


@router.post(
    "/{agreement_id}/lines/{line_id}/changes",
    status_code=201,
    responses=errors(ROLE, FOUND, PARAMS, BODY),
)
def change_line(
    agreement_id: uuid.UUID,
    line_id: uuid.UUID,
    body: LineChange,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> AgreementOut:
    """A new quantity and/or unit price from a date on (never inside a billed period)."""
    service.change_line(
        session, org=org, user=user, agreement_id=agreement_id, line_id=line_id, data=body
    )
    return _out(session, service.agreements.get(session, org_id=org.id, id=agreement_id))


@router.get("/{agreement_id}/preview", responses=errors(ROLE, FOUND, PARAMS))
def preview(agreement_id: uuid.UUID, session: SessionDep, user: ApproverUser) -> PreviewOut:
    """The next period not billed yet, as an invoice run would bill it now."""
    agreement = service.agreements.get(session, org_id=user.org_id, id=agreement_id)
    return PreviewOut.model_validate(service.preview(session, agreement))
