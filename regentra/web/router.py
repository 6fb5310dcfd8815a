"""All pages, behind one CSRF guard so no form post can skip it."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from regentra.web.security import verify_csrf
from regentra.web.views import (
    agreements,
    approvals,
    audit,
    auth,
    billing,
    catalog,
    clients,
    dashboard,
    integrations,
    invoice_list,
    invoice_runs,
    invoices,
    password_reset,
    payouts,
    quickbooks,
    quickbooks_mapping,
    search,
    settings,
    tickets,
    time,
    timesheet,
    tokens,
    users,
)

web_router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])
for module in (
    auth,
    password_reset,
    dashboard,
    clients,
    agreements,
    tickets,
    timesheet,  # before time: /time/week/submit is not /time/{entry_id}/submit
    time,
    approvals,
    invoice_runs,
    invoice_list,
    invoices,
    payouts,
    catalog,
    audit,
    users,
    settings,
    integrations,
    quickbooks,
    quickbooks_mapping,
    tokens,
    billing,
    search,
):
    web_router.include_router(module.router)
