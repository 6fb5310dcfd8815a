"""Settings → Billing & Subscriptions (admins): the org's Regentra subscription."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.integrations.platform import subscriptions
from regentra.web.auth import AdminPage
from regentra.web.forms import FormDep, text
from regentra.web.templating import redirect, render

router = APIRouter(prefix="/billing")


@router.get("")
def billing_page(request: Request, session: SessionDep, account: AdminPage) -> Response:
    facts = subscriptions.facts(session, account.org)
    back_from_checkout = request.query_params.get("checkout") == "done"
    details, details_error = None, None
    try:
        details = subscriptions.stripe_details(session, account.org)
    except RegentraError as exc:  # Stripe unreachable: the rest of the page still shows
        details_error = exc.message
    context = {
        "title": "Billing & Subscriptions",
        "facts": facts,
        "state": facts.state,
        "back_from_checkout": back_from_checkout,
        "details": details,
        "details_error": details_error,
    }
    return render(
        request, "billing/index.html", context, form_targets=subscriptions.stripe_page_origins()
    )


@router.post("/checkout")
def checkout(session: SessionDep, account: AdminPage, form: FormDep) -> Response:
    try:
        url = subscriptions.start_checkout(
            session, org=account.org, admin=account.user, plan=text(form, "plan")
        )
    except RegentraError as exc:
        session.rollback()
        return redirect("/billing", error=exc.message)
    return RedirectResponse(url, status_code=303)  # Stripe Checkout, on the platform account


@router.post("/portal")
def portal(session: SessionDep, account: AdminPage) -> Response:
    try:
        url = subscriptions.open_portal(session, org=account.org)
    except RegentraError as exc:
        session.rollback()
        return redirect("/billing", error=exc.message)
    return RedirectResponse(url, status_code=303)  # Stripe's customer portal


def _act(session: SessionDep, done: Callable[[], str]) -> Response:
    try:
        message = done()
    except RegentraError as exc:
        session.rollback()
        return redirect("/billing", error=exc.message)
    return redirect("/billing", success=message)


@router.post("/plan")
def change_plan(session: SessionDep, account: AdminPage, form: FormDep) -> Response:
    def done() -> str:
        plan = text(form, "plan")
        subscriptions.change_plan(session, org=account.org, admin=account.user, plan=plan)
        return f"Your subscription is now on the {plan.capitalize()} plan (prorated)."

    return _act(session, done)


@router.post("/cancel")
def cancel(session: SessionDep, account: AdminPage) -> Response:
    def done() -> str:
        subscriptions.set_cancel_at_period_end(
            session, org=account.org, admin=account.user, cancel=True
        )
        return "Your subscription will end at the end of the current period."

    return _act(session, done)


@router.post("/resume")
def resume(session: SessionDep, account: AdminPage) -> Response:
    def done() -> str:
        subscriptions.set_cancel_at_period_end(
            session, org=account.org, admin=account.user, cancel=False
        )
        return "Your subscription continues: the cancellation is undone."

    return _act(session, done)
