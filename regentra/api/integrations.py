"""Settings → Integrations → Stripe (admins only; every change audited, never a secret)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from regentra.api.deps import AdminUser, SessionDep
from regentra.audit.service import Actor
from regentra.integrations.stripe import reconcile as reconciliation
from regentra.integrations.stripe import settings
from regentra.integrations.stripe.settings import StripeKeys, StripeTestKeys

router = APIRouter(prefix="/integrations", tags=["integrations"])


@router.get("/stripe")
def get_stripe(session: SessionDep, user: AdminUser) -> dict[str, Any]:
    return settings.status(session, org_id=user.org_id)


@router.put("/stripe")
def put_stripe(body: StripeKeys, session: SessionDep, user: AdminUser) -> dict[str, Any]:
    settings.save_keys(session, org_id=user.org_id, keys=body, actor=Actor.of(user))
    return settings.status(session, org_id=user.org_id)


@router.post("/stripe/test")
def test_stripe(
    session: SessionDep, user: AdminUser, body: StripeTestKeys | None = Body(default=None)
) -> dict[str, Any]:
    keys = body or StripeTestKeys()
    result = settings.test_connection(session, org_id=user.org_id, keys=keys, actor=Actor.of(user))
    return result.to_json()


@router.post("/stripe/webhook-token/rotate")
def rotate_webhook_token(session: SessionDep, user: AdminUser) -> dict[str, Any]:
    url = settings.rotate_webhook_token(session, org_id=user.org_id, actor=Actor.of(user))
    return {"webhook_url": url}


@router.delete("/stripe")
def delete_stripe(session: SessionDep, user: AdminUser) -> dict[str, Any]:
    settings.disconnect(session, org_id=user.org_id, actor=Actor.of(user))
    return settings.status(session, org_id=user.org_id)


@router.post("/stripe/reconcile")
def reconcile_stripe(session: SessionDep, user: AdminUser) -> dict[str, Any]:
    """Reconcile now: the org's open invoices against Stripe, as the hourly job does. 200
    with the run's report, also when Stripe failed it (`ok: false` and why, as on the card,
    like Test Connection); 409 when Stripe is not connected.

    The run opens its own sessions and commits its own work, so this request's transaction
    is ended first: on SQLite it holds the database's write lock (taken at BEGIN IMMEDIATE by
    the token check), and the run's writes would otherwise wait on this very request until
    the busy timeout; on PostgreSQL it holds no lock the run needs, but is not kept open
    across the Stripe calls either."""
    org_id = user.org_id
    session.commit()
    return reconciliation.reconcile_org(org_id).to_json()
