"""Parts of the product that are not set up yet: real pages, so no link is dead."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from regentra.web.auth import AdminPage
from regentra.web.templating import render

router = APIRouter()


def _page(request: Request, area: str, title: str, summary: str, next_step: str) -> Response:
    context = {"title": title, "area": area, "summary": summary, "next_step": next_step}
    return render(request, "placeholders/not_set_up.html", context)


@router.get("/billing")
def billing(request: Request, account: AdminPage) -> Response:
    return _page(
        request,
        "billing",
        "Billing",
        f"Billing for your Regentra subscription is not set up yet for {account.org.name}.",
        "Your plan, seats and Regentra invoices will be shown here.",
    )
