"""Month-end invoice runs for admins (Invoices → New run): pick the period, untick clients,
generate the drafts, review them, send them all with a progress bar (the page refreshes
itself while the job sends), and see each invoice's result."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.invoice_runs import service
from regentra.web.auth import Account, AdminPage
from regentra.web.forms import FormDep, failure, parse_id, text, texts
from regentra.web.templating import redirect, render

router = APIRouter(prefix="/invoice-runs")


def _list_page(
    request: Request,
    session: Session,
    account: Account,
    *,
    period: str | None = None,
    error: str | None = None,
    code: int = 200,
) -> Response:
    start, _ = service.last_month(account.org)
    context = {
        "title": "Invoice runs",
        "runs": service.list_runs(session, org_id=account.org.id).items,
        "period": period or start.strftime("%Y-%m"),
        "error": error,
    }
    return render(request, "invoice_runs/list.html", context, status=code)


@router.get("")
def runs_page(request: Request, session: SessionDep, account: AdminPage) -> Response:
    return _list_page(request, session, account)


@router.get("/new")
def new_run_page(request: Request, session: SessionDep, account: AdminPage) -> Response:
    return _list_page(request, session, account)


@router.post("")
def create_run(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    period = text(form, "period")[:20]
    try:
        start, end = service.month(period)
        run = service.create(
            session, org=account.org, user=account.user, period_start=start, period_end=end
        )
    except RegentraError as exc:
        session.rollback()
        message, code = failure(exc)
        return _list_page(request, session, account, period=period, error=message, code=code)
    return redirect(f"/invoice-runs/{run.id}")


@router.get("/{run_id}")
def run_page(
    request: Request, run_id: uuid.UUID, session: SessionDep, account: AdminPage
) -> Response:
    run = service.get(session, org_id=account.org.id, run_id=run_id)
    shown = service.describe(session, run)
    context = {"title": f"Invoice run {run.period_start} to {run.period_end}", "run": shown}
    return render(request, "invoice_runs/detail.html", context)


@router.post("/{run_id}/generate")
def generate(run_id: uuid.UUID, session: SessionDep, account: AdminPage, form: FormDep) -> Response:
    back = f"/invoice-runs/{run_id}"
    try:
        ticked = [parse_id(raw, "client") for raw in texts(form, "client_id")]
        if not ticked:
            return redirect(back, error="Tick at least one client to make drafts for.")
        run = service.generate(
            session, org=account.org, user=account.user, run_id=run_id, client_ids=ticked
        )
    except RegentraError as exc:
        session.rollback()
        return redirect(back, error=exc.message)
    counts = service.progress(service.items_of(session, run))["counts"]
    made = counts.get("draft", 0)
    return redirect(
        back,
        success=f"{made} draft{'' if made == 1 else 's'} made. Review them, then send them all.",
    )


@router.post("/{run_id}/send")
def send(run_id: uuid.UUID, session: SessionDep, account: AdminPage) -> Response:
    back = f"/invoice-runs/{run_id}"
    try:
        service.request_send(session, org=account.org, user=account.user, run_id=run_id)
    except RegentraError as exc:
        session.rollback()
        return redirect(back, error=exc.message)
    return redirect(back, success="Sending: each invoice's result appears below as it goes.")
