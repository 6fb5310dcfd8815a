from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter

from regentra.api.deps import AdminUser, CurrentOrg, SessionDep
from regentra.api.responses import PARAMS, ROLE, errors
from regentra.api.schemas import Page
from regentra.audit import service
from regentra.audit.schemas import AuditEventOut

router = APIRouter(prefix="/audit-log", tags=["audit"])


@router.get("", responses=errors(ROLE, PARAMS))
def list_audit_log(
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor_user_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[AuditEventOut]:
    tz = org.timezone  # a bound without a zone is in the org's time zone
    page = service.list_events(
        session,
        org_id=user.org_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        actor_user_id=actor_user_id,
        since=service.instant(since, tz=tz, label="since"),
        until=service.instant(until, tz=tz, label="until"),
        limit=limit,
        cursor=cursor,
    )
    return Page[AuditEventOut].model_validate(page)
