from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from regentra.api import serialize
from regentra.api.deps import AdminUser, CurrentOrg, SessionDep
from regentra.audit.service import Actor
from regentra.orgs import service
from regentra.orgs.schemas import OrgUpdate

router = APIRouter(prefix="/org", tags=["org"])


@router.get("")
def get_org(org: CurrentOrg) -> dict[str, Any]:
    return serialize.org(org)


@router.patch("")
def update_org(body: OrgUpdate, session: SessionDep, user: AdminUser) -> dict[str, Any]:
    org = service.update_org(session, org_id=user.org_id, data=body, actor=Actor.of(user))
    return serialize.org(org)
