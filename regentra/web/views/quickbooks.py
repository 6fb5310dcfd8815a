"""Settings → Integrations → QuickBooks (admins): Connect (a form post that sends the browser
to Intuit), the OAuth callback and Disconnect. The card's data is `quickbooks_card.py`.

The callback is a page: Intuit sends the admin's browser back to
`/integrations/quickbooks/callback` (`oauth.CALLBACK_PATH`, the redirect URI registered for
the app). On success it goes back to the integrations page with a notice; when refused it
shows the integrations page with the reason on the QuickBooks card, with its 4xx status.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from regentra.audit.service import Actor
from regentra.errors import Invalid, RegentraError
from regentra.http.deps import SessionDep
from regentra.integrations.quickbooks import oauth, settings
from regentra.web.auth import Account, AdminPage
from regentra.web.forms import FormDep, checkbox
from regentra.web.templating import redirect
from regentra.web.views import integrations

router = APIRouter(prefix="/integrations/quickbooks")

assert oauth.CALLBACK_PATH == "/integrations/quickbooks/callback"


def _page_with_error(
    request: Request, session: Session, account: Account, exc: RegentraError
) -> Response:
    session.rollback()
    return integrations._page(
        request, session, account, quickbooks_error=exc.message, status=exc.status
    )


@router.post("/connect")
def connect(request: Request, session: SessionDep, account: AdminPage) -> Response:
    try:
        url = settings.start_connect(session, org_id=account.org.id, user=account.user)
    except RegentraError as exc:
        return _page_with_error(request, session, account, exc)
    return redirect(url)


@router.get("/callback")
def callback(request: Request, session: SessionDep, account: AdminPage) -> Response:
    params = request.query_params
    try:
        conn = settings.finish_connect(
            session,
            user=account.user,
            state=params.get("state"),
            code=params.get("code"),
            realm_id=params.get("realmId"),
            error=params.get("error"),
        )
    except RegentraError as exc:
        return _page_with_error(request, session, account, exc)
    if conn.company_name is None:
        return redirect(
            "/integrations",
            success=f"QuickBooks connected: company {conn.realm_id}. QuickBooks did not answer "
            "when asked for its name and currency; connect again later to read them.",
        )
    return redirect("/integrations", success=f"QuickBooks connected: {conn.company_name}.")


@router.post("/disconnect")
def disconnect(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    if not checkbox(form, "confirm"):
        problem = Invalid("Tick the box to confirm disconnecting QuickBooks.")
        return _page_with_error(request, session, account, problem)
    settings.disconnect(session, org_id=account.org.id, actor=Actor.of(account.user))
    return redirect(
        "/integrations",
        success="QuickBooks disconnected: access revoked and its tokens deleted. Postings "
        "already made stay recorded.",
    )
