"""Settings → Integrations → Stripe (admins only; every change audited, never a secret)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body
from sqlalchemy.orm import Session

from regentra.api.deps import AdminUser, SessionDep
from regentra.api.responses import BODY, NOT_CONNECTED, ROLE, errors
from regentra.api.schemas import ReconcileReport, StripeStatus, StripeTestResult, WebhookUrl
from regentra.audit.service import Actor
from regentra.integrations.stripe import reconcile as reconciliation
from regentra.integrations.stripe import settings
from regentra.integrations.stripe.payment_methods import StripePaymentMethods
from regentra.integrations.stripe.settings import StripeKeys, StripeTestKeys

router = APIRouter(prefix="/integrations", tags=["integrations"])


def _status(session: Session, org_id: uuid.UUID) -> StripeStatus:
    return StripeStatus.model_validate(settings.status(session, org_id=org_id))


@router.get("/stripe", responses=errors(ROLE))
def get_stripe(session: SessionDep, user: AdminUser) -> StripeStatus:
    return _status(session, user.org_id)


@router.put("/stripe", responses=errors(ROLE, BODY))
def put_stripe(body: StripeKeys, session: SessionDep, user: AdminUser) -> StripeStatus:
    """Save the keys; new keys are checked with Stripe at once (the answer is `last_test`)."""
    settings.save_keys(session, org_id=user.org_id, keys=body, actor=Actor.of(user))
    return _status(session, user.org_id)


@router.post("/stripe/test", responses=errors(ROLE, BODY))
def test_stripe(
    session: SessionDep, user: AdminUser, body: StripeTestKeys | None = Body(default=None)
) -> StripeTestResult:
    """200 also when Stripe refuses the key (`ok: false` and why)."""
    keys = body or StripeTestKeys()
    result = settings.test_connection(session, org_id=user.org_id, keys=keys, actor=Actor.of(user))
    return StripeTestResult.model_validate(result)


@router.put("/stripe/payment-methods", responses=errors(ROLE, BODY))
def put_payment_methods(
    body: StripePaymentMethods, session: SessionDep, user: AdminUser
) -> StripeStatus:
    """The Stripe account's country (for restricted keys, which may not read it) and the
    payment methods invoices offer: card, or card and ACH (`us_bank_account`, US accounts
    only: 422 `ach_needs_us_account` otherwise). `methods: null` returns to the account's
    default."""
    settings.set_payment_methods(session, org_id=user.org_id, body=body, actor=Actor.of(user))
    return _status(session, user.org_id)


@router.post("/stripe/webhook-token/rotate", responses=errors(ROLE))
def rotate_webhook_token(session: SessionDep, user: AdminUser) -> WebhookUrl:
    url = settings.rotate_webhook_token(session, org_id=user.org_id, actor=Actor.of(user))
    return WebhookUrl(webhook_url=url)


@router.delete("/stripe", responses=errors(ROLE))
def delete_stripe(session: SessionDep, user: AdminUser) -> StripeStatus:
    settings.disconnect(session, org_id=user.org_id, actor=Actor.of(user))
    return _status(session, user.org_id)


@router.post("/stripe/reconcile", responses=errors(ROLE, NOT_CONNECTED))
def reconcile_stripe(session: SessionDep, user: AdminUser) -> ReconcileReport:
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
    return ReconcileReport.model_validate(reconciliation.reconcile_org(org_id))
