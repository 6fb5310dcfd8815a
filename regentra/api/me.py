from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from regentra.api import serialize
from regentra.api.deps import CurrentOrg, CurrentUser

router = APIRouter(tags=["me"])


@router.get("/me")
def me(user: CurrentUser, org: CurrentOrg) -> dict[str, Any]:
    return {**serialize.user(user), "org": serialize.org(org)}
