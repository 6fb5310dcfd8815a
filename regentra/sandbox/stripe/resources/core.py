"""GET /v1/account and GET /v1/balance."""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account

router = Router()


@router.route("GET", "/v1/account", "AccountRetrieveCurrentParams")
def retrieve_account(ctx: Ctx) -> dict[str, Any]:
    account = ctx.account
    return {
        "id": account.id,
        "object": "account",
        "business_profile": {"name": f"Sandbox account {account.id[-6:]}", "url": None},
        "business_type": "company",
        "capabilities": _capabilities(account),
        "charges_enabled": True,
        "country": account.country,
        "created": ctx.now(),
        "default_currency": account.default_currency,
        "details_submitted": True,
        "email": None,
        "payouts_enabled": True,
        "settings": {
            "dashboard": {
                "display_name": f"Sandbox {account.id[-6:]}",
                "timezone": account.timezone,
            }
        },
        "type": "standard",
        "controller": {"type": "account"},
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/accounts/{account.id}/external_accounts",
        },
        "future_requirements": _no_requirements(),
        "metadata": {},
        "requirements": _no_requirements(),
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
    }


def _capabilities(account: Account) -> dict[str, str]:
    """Card payments always; ACH Direct Debit when the (US) account activated it."""
    found = {"card_payments": "active"}
    if account.country == "US" and "us_bank_account" in account.payment_methods:
        found["us_bank_account_ach_payments"] = "active"
    return found


def _no_requirements() -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": [],
        "disabled_reason": None,
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    }


@router.route("GET", "/v1/balance", "BalanceRetrieveParams")
def retrieve_balance(ctx: Ctx) -> dict[str, Any]:
    available: dict[str, int] = {}
    pending: dict[str, int] = {}
    for txn in ctx.sandbox.all(ctx.account, "balance_transaction"):
        bucket = available if txn["status"] == "available" else pending
        bucket[txn["currency"]] = bucket.get(txn["currency"], 0) + txn["net"]
    return {
        "object": "balance",
        "available": [
            {"amount": v, "currency": c, "source_types": {"card": v}} for c, v in available.items()
        ]
        or [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
        "pending": [
            {"amount": v, "currency": c, "source_types": {"card": v}} for c, v in pending.items()
        ]
        or [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
        "connect_reserved": [],
        "livemode": ctx.account.livemode,
    }
