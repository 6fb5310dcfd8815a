from __future__ import annotations

from fastapi import APIRouter

from regentra.api.deps import CurrentOrg, CurrentUser
from regentra.api.responses import errors
from regentra.api.schemas import Me
from regentra.orgs.schemas import OrgOut, UserOut

router = APIRouter(tags=["me"])


@router.get("/me", responses=errors())
def me(user: CurrentUser, org: CurrentOrg) -> Me:
    return Me(**dict(UserOut.model_validate(user)), org=OrgOut.model_validate(org))
