"""Settings → Integrations (admins): connect the org's Stripe account (and QuickBooks: its
card is `web/views/quickbooks_card.py`, its routes `web/views/quickbooks.py`).

Plain forms that work without JavaScript: Save and Test Connection are two buttons of one
form (Test Connection posts to its own action and shows the result inline); the webhook URL
is selectable text. JavaScript only improves: Copy button, Test Connection without a reload.
Secret fields are never filled in: only their hint is shown. Making a new webhook URL and
disconnecting each ask for a ticked "Yes, ..." box, checked here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from regentra.audit.service import Actor
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.integrations.stripe import reconcile as reconciliation
from regentra.integrations.stripe import settings
from regentra.integrations.stripe.connection_test import TestResult
from regentra.integrations.stripe.payment_methods import LABELS, StripePaymentMethods
from regentra.integrations.stripe.settings import StripeKeys, StripeTestKeys
from regentra.web.auth import Account, AdminPage
from regentra.web.forms import FormDep, checkbox, failure, text
from regentra.web.templating import redirect, render
from regentra.web.views import quickbooks_card, quickbooks_mapping

router = APIRouter(prefix="/integrations")


_LABELS = {
    "publishable_key": "Publishable key",
    "secret_key": "Secret key",
    "webhook_signing_secret": "Webhook signing secret",
}


def _problem(exc: RegentraError | ValidationError) -> tuple[str, int]:
    """The message next to the form, naming fields by their labels."""
    message, status = failure(exc)
    fields = exc.details.get("fields") if isinstance(exc, RegentraError) else None
    if fields:
        message = "; ".join(
            f"{_LABELS.get(f['field'], f['field'])}: {f['message']}" for f in fields
        )
    return message, status


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _page(
    request: Request,
    session: SessionDep,
    account: Account,
    *,
    publishable_key: str | None = None,
    error: str | None = None,
    test: TestResult | None = None,
    quickbooks_error: str | None = None,
    danger_error: str | None = None,
    status: int = 200,
) -> Response:
    state = settings.status(session, org_id=account.org.id)
    last_test = state["last_test"]
    rejection = state["last_webhook_rejection"]
    reconciled = state["last_reconcile"]
    context: dict[str, Any] = {
        "title": "Integrations",
        "stripe": state,
        "publishable_key": state["publishable_key"] if publishable_key is None else publishable_key,
        "last_test_at": _when(last_test["at"]) if last_test else None,
        "last_webhook_at": _when(state["last_webhook_at"]),
        "rejected_at": _when(rejection["at"]) if rejection else None,
        "reconciled_at": _when(reconciled["at"]) if reconciled else None,
        "catalog_last_sync_at": _when(state["catalog"]["last_sync_at"]),
        "test": test,
        "error": error,
        "danger_error": danger_error,
        "method_labels": LABELS,
        "quickbooks": quickbooks_card.card(session, org_id=account.org.id, error=quickbooks_error),
        "quickbooks_mapping": quickbooks_mapping.card(session, account),
    }
    return render(
        request,
        "integrations/index.html",
        context,
        status=status,
        form_targets=quickbooks_card.connect_form_targets(),
    )


@router.get("")
def integrations(request: Request, session: SessionDep, account: AdminPage) -> Response:
    return _page(request, session, account)


@router.post("/stripe")
def save_stripe(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    try:
        keys = StripeKeys(
            publishable_key=text(form, "publishable_key"),
            secret_key=text(form, "secret_key") or None,
            webhook_signing_secret=text(form, "webhook_signing_secret") or None,
        )
        result = settings.save_keys(
            session, org_id=account.org.id, keys=keys, actor=Actor.of(account.user)
        )
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = _problem(exc)
        typed = text(form, "publishable_key")[:255]
        return _page(request, session, account, publishable_key=typed, error=message, status=status)
    if result is not None and not result.ok:
        return redirect(
            "/integrations", error=f"Saved, but the connection test failed: {result.message}"
        )
    done = "Stripe settings saved."
    if result is not None:
        done += " " + result.message
    return redirect("/integrations", success=done)


@router.post("/stripe/test")
def test_stripe(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    typed = text(form, "publishable_key")[:255]
    try:
        keys = StripeTestKeys(
            publishable_key=typed or None, secret_key=text(form, "secret_key") or None
        )
        result = settings.test_connection(
            session, org_id=account.org.id, keys=keys, actor=Actor.of(account.user)
        )
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = _problem(exc)
        return _page(request, session, account, publishable_key=typed, error=message, status=status)
    return _page(request, session, account, publishable_key=typed or None, test=result)


@router.post("/stripe/payment-methods")
def save_payment_methods(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    choice = text(form, "methods") or "default"
    try:
        body = StripePaymentMethods(
            country=text(form, "country").strip() or None,
            methods=None if choice == "default" else choice.split(","),
        )
        settings.set_payment_methods(
            session, org_id=account.org.id, body=body, actor=Actor.of(account.user)
        )
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = _problem(exc)
        return _page(request, session, account, error=message, status=status)
    return redirect("/integrations", success="Payment methods saved.")


def _unconfirmed(
    request: Request, session: SessionDep, account: Account, form: FormDep, what: str
) -> Response | None:
    """The page again, asking for the tick, when a form's "Yes, ..." box was left unticked
    (browsers refuse to send it so; this is for everything else)."""
    if checkbox(form, "confirm"):
        return None
    return _page(
        request, session, account, danger_error=f"Tick the box to confirm {what}.", status=422
    )


@router.post("/stripe/webhook-token/rotate")
def rotate_webhook_url(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    if refused := _unconfirmed(request, session, account, form, "making a new webhook URL"):
        return refused
    settings.rotate_webhook_token(session, org_id=account.org.id, actor=Actor.of(account.user))
    return redirect(
        "/integrations",
        success="New webhook URL made; the old one no longer works. Update it in Stripe.",
    )


@router.post("/stripe/disconnect")
def disconnect_stripe(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    if refused := _unconfirmed(request, session, account, form, "disconnecting Stripe"):
        return refused
    settings.disconnect(session, org_id=account.org.id, actor=Actor.of(account.user))
    return redirect("/integrations", success="Stripe disconnected; its keys were deleted.")


@router.post("/stripe/reconcile")
def reconcile_stripe(session: SessionDep, account: AdminPage) -> Response:
    """Reconcile now (as the hourly job does). The run opens its own sessions: this request's
    transaction ends first (on SQLite it holds the write lock; see the API route)."""
    org_id = account.org.id
    session.commit()
    try:
        report = reconciliation.reconcile_org(org_id)
    except RegentraError as exc:
        return redirect("/integrations", error=exc.message)
    if not report.ok:
        return redirect("/integrations", error=report.message)
    return redirect("/integrations", success=f"Reconciled: {report.message}")
