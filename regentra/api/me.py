from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from regentra.api.deps import CurrentOrg, CurrentUser, SessionDep
from regentra.api.responses import FOUND, PARAMS, errors
from regentra.api.schemas import Me, Page
from regentra.auth import my_sessions
from regentra.orgs.schemas import OrgOut, UserOut

router = APIRouter(tags=["me"])


class WebSessionOut(BaseModel):
    """One of your signed-in browser sessions."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    expires_at: datetime


@router.get("/me", responses=errors())
def me(user: CurrentUser, org: CurrentOrg) -> Me:
    return Me(**dict(UserOut.model_validate(user)), org=OrgOut.model_validate(org))


@router.get("/me/sessions", responses=errors())
def my_web_sessions(session: SessionDep, user: CurrentUser) -> Page[WebSessionOut]:
    """Your signed-in browser sessions, newest first."""
    items = my_sessions.list_for(session, user=user)
    return Page[WebSessionOut](
        items=[WebSessionOut.model_validate(s) for s in items], next_cursor=None
    )


@router.delete("/me/sessions/{session_id}", status_code=204, responses=errors(FOUND, PARAMS))
def revoke_web_session(session_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> Response:
    """Sign one of your browser sessions out, at once."""
    my_sessions.revoke(session, user=user, session_id=session_id)
    return Response(status_code=204)
