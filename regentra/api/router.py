from __future__ import annotations

from fastapi import APIRouter

from regentra.api import (
    agreements,
    audit,
    billing,
    catalog,
    clients,
    integrations,
    invoice_runs,
    invoices,
    me,
    org,
    payouts,
    quickbooks,
    quickbooks_postings,
    receivables,
    tickets,
    time_entries,
    users,
)

v1_router = APIRouter(prefix="/api/v1")
for module in (
    me,
    org,
    clients,
    tickets,
    time_entries,
    audit,
    users,
    integrations,
    quickbooks,
    quickbooks_postings,
    catalog,
    invoices,
    invoice_runs,
    agreements,
    payouts,
    receivables,
    billing,
):
    v1_router.include_router(module.router)

# The app mounts this one router: the /api/v1 surface (the inbound vendor webhooks are routes
# of their own, matched first: `api.webhooks`).
api_router = APIRouter()
api_router.include_router(v1_router)
