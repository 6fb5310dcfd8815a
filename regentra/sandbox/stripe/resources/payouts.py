"""Automatic payouts of the available balance to the account's bank, and their contents.

Stripe pays out daily by default; the sandbox starts every account on `manual` (so balances
stay as tests left them) and the control route `POST /_sandbox/payouts/schedule`
(`interval=daily`) turns automatic daily payouts on from the next day. Then, each time the
clock passes 00:00 UTC, one payout per currency takes every balance transaction available by
then and not paid out yet (charges, refunds, dispute adjustments, returned payouts) when their
sum is positive (else they wait): a payout (`automatic`, `pending`, arriving the next day,
when it becomes `paid`) with its own balance transaction of type `payout`. `GET
/v1/balance_transactions?payout=po_…` lists what an automatic payout contains, itself
included. The control route `POST /_sandbox/payouts/{id}/fail` fails one (`failure_code`):
the funds come back in a balance transaction of type `payout_failure` and are paid out again
with the next payout. Events: `payout.created`, `payout.paid`, `payout.failed`,
`payout.updated`.
"""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources import ledger
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

router = Router()

KIND = "payout"
DAY = 86400
SCHEDULE = "sandbox.payout_schedule"  # per account: {"interval", "last_run"}
PAID_OUT = "sandbox.paid_out"  # per account: {"by_transaction": {txn id: payout id}}
FAILURES = {
    "account_closed": "The bank account has been closed.",
    "no_account": "The bank account details on file are probably incorrect.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
}


def install(sandbox: Sandbox) -> None:
    if _run not in sandbox.clock_hooks:
        sandbox.clock_hooks.append(_run)


def _day_start(ts: int) -> int:
    return ts - ts % DAY


def _paid_out(account: Account) -> dict[str, str]:
    held = account.objects.setdefault(PAID_OUT, {"object": PAID_OUT, "by_transaction": {}})
    by_transaction: dict[str, str] = held["by_transaction"]
    return by_transaction


@router.route("POST", "/_sandbox/payouts/schedule", control=True)
def set_schedule(ctx: Ctx) -> dict[str, Any]:
    interval = ctx.params.get("interval")
    if interval not in ("daily", "manual"):
        raise StripeError("interval must be daily or manual.", param="interval")
    schedule = {"object": SCHEDULE, "interval": interval, "last_run": _day_start(ctx.now())}
    ctx.account.objects[SCHEDULE] = schedule
    return schedule


def _transaction(
    sandbox: Sandbox, account: Account, payout: dict[str, Any], amount: int, kind: str, at: int
) -> dict[str, Any]:
    return ledger.record(
        sandbox,
        account,
        amount=amount,
        currency=payout["currency"],
        type=kind,
        reporting_category="payout" if kind == "payout" else "payout_reversal",
        source=payout["id"],
        description="STRIPE PAYOUT" if kind == "payout" else "Payout failure",
        at=at,
    )


def _pay_out(sandbox: Sandbox, account: Account, boundary: int) -> None:
    """The payouts of the day that starts at `boundary`: one per currency."""
    paid_out = _paid_out(account)
    due: dict[str, list[dict[str, Any]]] = {}
    for txn in sandbox.all(account, "balance_transaction"):
        if txn["id"] in paid_out or txn["type"] == "payout" or txn["available_on"] > boundary:
            continue
        due.setdefault(txn["currency"], []).append(txn)
    for currency, txns in sorted(due.items()):
        amount = sum(t["net"] for t in txns)
        if amount <= 0:
            continue  # nothing to pay: they wait for the next day
        payout = sandbox.add(
            account,
            {
                "object": KIND,
                "amount": amount,
                "application_fee": None,
                "application_fee_amount": None,
                "arrival_date": boundary + DAY,
                "automatic": True,
                "balance_transaction": None,
                "created": boundary,
                "currency": currency,
                "description": "STRIPE PAYOUT",
                "destination": f"ba_{account.id[-10:]}",
                "failure_balance_transaction": None,
                "failure_code": None,
                "failure_message": None,
                "metadata": {},
                "method": "standard",
                "original_payout": None,
                "payout_method": None,
                "reconciliation_status": "completed",
                "reversed_by": None,
                "source_type": "card",
                "statement_descriptor": None,
                "status": "pending",
                "trace_id": {"status": "pending", "value": None},
                "type": "bank_account",
            },
        )
        own = _transaction(sandbox, account, payout, -amount, "payout", boundary)
        payout["balance_transaction"] = own["id"]
        for txn in [*txns, own]:
            paid_out[txn["id"]] = payout["id"]
        sandbox.emit(account, "payout.created", payout)


def _run(sandbox: Sandbox) -> None:
    now = sandbox.now()
    for account in list(sandbox.accounts.values()):
        schedule = account.objects.get(SCHEDULE)
        if schedule is not None and schedule["interval"] == "daily":
            boundary = schedule["last_run"] + DAY
            while boundary <= now:
                _pay_out(sandbox, account, boundary)
                schedule["last_run"] = boundary
                boundary += DAY
        for payout in sandbox.all(account, KIND):
            if payout["status"] in ("pending", "in_transit") and payout["arrival_date"] <= now:
                payout["status"] = "paid"
                payout["trace_id"] = {"status": "supported", "value": random_token(12)}
                sandbox.emit(account, "payout.updated", payout, {"status": "in_transit"})
                sandbox.emit(account, "payout.paid", payout)


@router.route("POST", "/_sandbox/payouts/{id}/fail", control=True)
def fail_payout(ctx: Ctx) -> dict[str, Any]:
    """The bank returns the payout: `failure_code` (default account_closed)."""
    payout = ctx.get(KIND, ctx.path["id"])
    code = ctx.params.get("failure_code", "account_closed")
    if code not in FAILURES:
        raise StripeError(f"failure_code must be one of {', '.join(FAILURES)}.")
    if payout["status"] in ("failed", "canceled"):
        raise StripeError(f"Payout {payout['id']} has already {payout['status']}.")
    previous = {"status": payout["status"]}
    back = _transaction(
        ctx.sandbox, ctx.account, payout, payout["amount"], "payout_failure", ctx.now()
    )
    payout.update(
        status="failed",
        failure_code=code,
        failure_message=FAILURES[code],
        failure_balance_transaction=back["id"],
    )
    ctx.emit("payout.updated", payout, previous)
    ctx.emit("payout.failed", payout)
    return payout


@router.route("GET", "/v1/payouts/{id}", "PayoutRetrieveParams")
def retrieve_payout(ctx: Ctx) -> dict[str, Any]:
    return ctx.get(KIND, ctx.path["id"])


@router.route("GET", "/v1/payouts", "PayoutListParams")
def list_payouts(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    items = listing.matching(ctx.sandbox.all(ctx.account, KIND), p, ("status",))
    return listing.page(items, p, "/v1/payouts", kind=KIND)


def contents(ctx: Ctx, payout_id: str) -> list[dict[str, Any]]:
    """`GET /v1/balance_transactions?payout=`: what an automatic payout paid out, itself
    included (Stripe cannot say it for a manual payout)."""
    payout = ctx.get(KIND, payout_id, "payout")
    if not payout["automatic"]:
        raise StripeError(
            "Balance transactions can be listed by payout only for automatic payouts.",
            param="payout",
        )
    paid_out = _paid_out(ctx.account)
    every = ctx.sandbox.all(ctx.account, "balance_transaction")
    return [t for t in every if paid_out.get(t["id"]) == payout_id]
