from __future__ import annotations

from fastapi import APIRouter

from regentra.api.deps import AdminUser, CurrentOrg, SessionDep
from regentra.api.responses import BODY, ROLE, errors
from regentra.audit.service import Actor
from regentra.orgs import service
from regentra.orgs.schemas import OrgOut, OrgUpdate

router = APIRouter(prefix="/org", tags=["org"])


@router.get("", responses=errors())
def get_org(org: CurrentOrg) -> OrgOut:
    return OrgOut.model_validate(org)


@router.patch("", responses=errors(ROLE, BODY))
def update_org(body: OrgUpdate, session: SessionDep, user: AdminUser) -> OrgOut:
    org = service.update_org(session, org_id=user.org_id, data=body, actor=Actor.of(user))
    return OrgOut.model_validate(org)
