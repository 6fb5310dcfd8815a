"""Settings → Integrations → QuickBooks (admins only; every change audited, never a token)."""

from __future__ import annotations

from fastapi import APIRouter

from regentra.api.deps import AdminUser, SessionDep
from regentra.api.quickbooks_schemas import QuickBooksAuthorizeUrl, QuickBooksStatus
from regentra.api.responses import ROLE, errors
from regentra.audit.service import Actor
from regentra.integrations.quickbooks import settings

router = APIRouter(prefix="/integrations/quickbooks", tags=["integrations"])

NOT_CONFIGURED = {
    409: "The server has no QuickBooks app keys: the message names the REGENTRA_QBO_* "
    "settings to set (`quickbooks_not_configured`).",
}
INTUIT_DOWN = {503: "Intuit's sign-in service could not be reached (`quickbooks_unavailable`)."}


@router.get("", responses=errors(ROLE))
def get_quickbooks(session: SessionDep, user: AdminUser) -> QuickBooksStatus:
    return QuickBooksStatus.model_validate(settings.status(session, org_id=user.org_id))


@router.post("/connect", responses=errors(ROLE, NOT_CONFIGURED, INTUIT_DOWN))
def connect_quickbooks(session: SessionDep, user: AdminUser) -> QuickBooksAuthorizeUrl:
    """Start Connect: the URL of Intuit's authorize page. Its `state` is single use, lasts
    ten minutes and belongs to this user and org; Intuit sends the browser back to the
    app's callback page (`/integrations/quickbooks/callback`), where this same user,
    signed in, completes the connection."""
    url = settings.start_connect(session, org_id=user.org_id, user=user)
    return QuickBooksAuthorizeUrl(authorize_url=url)


@router.delete("", responses=errors(ROLE))
def delete_quickbooks(session: SessionDep, user: AdminUser) -> QuickBooksStatus:
    """Disconnect: revoke at Intuit (an outage or a grant already revoked is noted in the
    audit entry), delete the tokens, forget the company and its mapping. Postings already
    made stay recorded. 200 also when nothing was connected."""
    settings.disconnect(session, org_id=user.org_id, actor=Actor.of(user))
    return QuickBooksStatus.model_validate(settings.status(session, org_id=user.org_id))
