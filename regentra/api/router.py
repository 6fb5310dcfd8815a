from __future__ import annotations

from fastapi import APIRouter

from regentra.api import audit, clients, me, org, tickets, time_entries, users

api_router = APIRouter(prefix="/api/v1")
for module in (me, org, clients, tickets, time_entries, audit, users):
    api_router.include_router(module.router)
