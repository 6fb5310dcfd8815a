"""The sandbox's control API (`/_sandbox/…`), authenticated by the account's secret key.

Not part of Stripe: what the Dashboard and Stripe's internals would do. Webhook endpoints
("Add endpoint"), injected faults, the delivery and request logs, reset, and the clock.
Faults, delivery settings and the clock are sandbox-wide: they apply to every account.
"""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import webhooks
from regentra.sandbox.stripe.errors import StripeError, missing, unknown_parameter
from regentra.sandbox.stripe.routing import Ctx, Router

router = Router()

RATES = ("rate_429", "rate_500", "drop", "duplicate", "reorder")
DURATIONS = ("latency_ms", "delay_ms")
MAX_DURATION_MS = 60_000
SANDBOX_WIDE = "Faults apply to the whole sandbox: every account (key) on it, not only this one."
MAX_LOG = 10_000


# ---- parameter checks ------------------------------------------------------------------------


def _only(params: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in params:
        if key not in allowed:
            raise unknown_parameter(key)


def _number(params: dict[str, Any], name: str, low: float, high: float) -> float | None:
    if name not in params:
        return None
    raw = params[name]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise StripeError(
            f"Invalid {name}: {raw!r} is not a number.",
            code="parameter_invalid_decimal",
            param=name,
        ) from None
    if not low <= value <= high:
        raise StripeError(
            f"Invalid {name}: must be between {low:g} and {high:g}.",
            code="parameter_invalid_decimal",
            param=name,
        )
    return value


def _integer(params: dict[str, Any], name: str, low: int, high: int) -> int | None:
    if name not in params:
        return None
    raw = params[name]
    if not (isinstance(raw, str) and raw.lstrip("-").isdigit()):
        raise StripeError(
            f"Invalid integer: {name} must be an integer.",
            code="parameter_invalid_integer",
            param=name,
        )
    value = int(raw)
    if not low <= value <= high:
        raise StripeError(
            f"Invalid {name}: must be between {low} and {high}.",
            code="parameter_invalid_integer",
            param=name,
        )
    return value


def _string_list(params: dict[str, Any], name: str) -> list[str] | None:
    if name not in params:
        return None
    value = params[name]
    if isinstance(value, dict) and all(k.isdigit() for k in value):
        value = [value[k] for k in sorted(value, key=int)]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StripeError(f"Invalid array: {name} must be an array of strings.", param=name)
    return value


def _bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, "false")
    if value not in ("true", "false"):
        raise StripeError(f"Invalid boolean: {value}", param=name)
    return bool(value == "true")


def _log(items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """A log as a list object, oldest first; `limit` keeps the newest `limit` entries."""
    limit = _integer(params, "limit", 1, MAX_LOG)
    data = items[-limit:] if limit else list(items)
    return {"object": "list", "data": data, "has_more": len(items) > len(data), "url": url}


# ---- webhook endpoints ("Add endpoint" in the Dashboard) -------------------------------------


def _target_json(ctx: Ctx, target: dict[str, Any]) -> dict[str, Any]:
    return {
        **webhooks.public_endpoint(ctx.account, target, with_secret=True),
        "source": target.get("source", "dashboard"),
    }


@router.route("POST", "/_sandbox/webhooks", control=True)
def add_webhook(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    _only(p, ("url", "api_version", "enabled_events", "description"))
    if not p.get("url"):
        raise StripeError("Missing required param: url.", code="parameter_missing", param="url")
    url = webhooks.check_url(p["url"])
    api_version = p.get("api_version") or None
    if api_version is not None and api_version not in webhooks.api_versions():
        raise StripeError(
            f"Invalid api_version: {api_version!r} is not a Stripe API version "
            "(e.g. '2024-06-20' or '2026-10-28.endive').",
            code="parameter_invalid_string",
            param="api_version",
        )
    events = _string_list(p, "enabled_events") or ["*"]
    known = webhooks.event_types()
    for i, name in enumerate(events):
        if name not in known:
            raise StripeError(
                f"Invalid enabled_events[{i}]: {name!r} is not a Stripe event type.",
                code="parameter_invalid_string",
                param=f"enabled_events[{i}]",
            )
    target = webhooks.add_endpoint(
        ctx.sandbox,
        ctx.account,
        url=url,
        enabled_events=events,
        api_version=api_version,
        description=p.get("description") or None,
        source="dashboard",
    )
    return _target_json(ctx, target)


@router.route("GET", "/_sandbox/webhooks", control=True)
def list_webhooks(ctx: Ctx) -> dict[str, Any]:
    _only(ctx.params, ())
    data = [_target_json(ctx, t) for t in ctx.account.webhook_targets]
    return {"object": "list", "data": data, "has_more": False, "url": "/_sandbox/webhooks"}


@router.route("GET", "/_sandbox/webhooks/settings", control=True)
def get_webhook_settings(ctx: Ctx) -> dict[str, Any]:
    _only(ctx.params, ())
    return webhooks.engine(ctx.sandbox).settings.to_json()


@router.route("POST", "/_sandbox/webhooks/settings", control=True)
def set_webhook_settings(ctx: Ctx) -> dict[str, Any]:
    """Sandbox-wide: `retry_base_ms`, `max_attempts`, `timeout_ms`, `reorder_hold_ms`."""
    p = ctx.params
    _only(p, ("retry_base_ms", "max_attempts", "timeout_ms", "reorder_hold_ms"))
    base = _integer(p, "retry_base_ms", 0, 600_000)
    attempts = _integer(p, "max_attempts", 1, 20)
    timeout = _integer(p, "timeout_ms", 1, 120_000)
    hold = _integer(p, "reorder_hold_ms", 0, 600_000)
    settings = webhooks.engine(ctx.sandbox).settings
    if base is not None:
        settings.retry_base_s = base / 1000
    if attempts is not None:
        settings.max_attempts = attempts
    if timeout is not None:
        settings.timeout_s = timeout / 1000
    if hold is not None:
        settings.hold_s = hold / 1000
    return settings.to_json()


@router.route("DELETE", "/_sandbox/webhooks/{id}", control=True)
def delete_webhook(ctx: Ctx) -> dict[str, Any]:
    endpoint_id = ctx.path["id"]
    if not webhooks.remove_endpoint(ctx.sandbox, ctx.account, endpoint_id):
        raise missing("webhook_endpoint", endpoint_id)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


# ---- faults ----------------------------------------------------------------------------------


def _faults_json(ctx: Ctx) -> dict[str, Any]:
    return {
        "object": "sandbox.faults",
        "faults": dict(ctx.sandbox.faults),
        "scope": "sandbox",
        "message": SANDBOX_WIDE,
    }


@router.route("GET", "/_sandbox/faults", control=True)
def get_faults(ctx: Ctx) -> dict[str, Any]:
    _only(ctx.params, ())
    return _faults_json(ctx)


@router.route("POST", "/_sandbox/faults", control=True)
def set_faults(ctx: Ctx) -> dict[str, Any]:
    """Replace the faults with those given (none given: clear them all).

    API: `rate_429`, `rate_500` (probabilities 0..1), `latency_ms`. Webhook delivery: `drop`,
    `duplicate`, `reorder` (probabilities 0..1), `delay_ms`.
    """
    p = ctx.params
    _only(p, (*RATES, *DURATIONS))
    faults: dict[str, float] = {}
    for name in RATES:
        rate = _number(p, name, 0, 1)
        if rate:
            faults[name] = rate
    for name in DURATIONS:
        duration = _number(p, name, 0, MAX_DURATION_MS)
        if duration:
            faults[name] = duration
    ctx.sandbox.faults.clear()
    ctx.sandbox.faults.update(faults)
    return _faults_json(ctx)


# ---- logs ------------------------------------------------------------------------------------


@router.route("GET", "/_sandbox/deliveries", control=True)
def list_deliveries(ctx: Ctx) -> dict[str, Any]:
    """Every delivery attempt for this account, oldest first (filters: event, type, target),
    and `outstanding`: how many deliveries are still queued or in flight (0: settled)."""
    p = ctx.params
    _only(p, ("event", "type", "target", "limit"))
    items = [
        d
        for d in ctx.account.deliveries
        if all(d[name] == p[name] for name in ("event", "type", "target") if name in p)
    ]
    outstanding = webhooks.engine(ctx.sandbox).outstanding(ctx.account)
    return {**_log(items, p, "/_sandbox/deliveries"), "outstanding": outstanding}


@router.route("GET", "/_sandbox/requests", control=True)
def list_requests(ctx: Ctx) -> dict[str, Any]:
    """This account's API requests, oldest first (control requests are not logged)."""
    p = ctx.params
    _only(p, ("limit",))
    return _log(ctx.account.requests, p, "/_sandbox/requests")


# ---- reset and the clock ---------------------------------------------------------------------


@router.route("POST", "/_sandbox/reset", control=True)
def reset(ctx: Ctx) -> dict[str, Any]:
    """Wipe this account: objects, events, logs, idempotency keys, and (unless
    `keep_webhooks=true`) its webhook endpoints. Other accounts are untouched."""
    p = ctx.params
    _only(p, ("keep_webhooks",))
    keep = _bool(p, "keep_webhooks")
    sandbox, account = ctx.sandbox, ctx.account
    targets = account.webhook_targets
    webhooks.engine(sandbox).discard(account)
    sandbox.reset(account)
    fresh = sandbox.accounts[account.key]
    if keep:
        fresh.webhook_targets = targets
    return {
        "object": "sandbox.reset",
        "account": fresh.id,
        "webhook_endpoints_kept": len(fresh.webhook_targets),
    }


def _clock_json(ctx: Ctx) -> dict[str, Any]:
    return {
        "object": "sandbox.clock",
        "now": ctx.sandbox.now(),
        "offset_seconds": ctx.sandbox.clock_offset,
        "scope": "sandbox",
    }


@router.route("GET", "/_sandbox/clock", control=True)
def get_clock(ctx: Ctx) -> dict[str, Any]:
    _only(ctx.params, ())
    return _clock_json(ctx)


@router.route("POST", "/_sandbox/clock/advance", control=True)
def advance_clock(ctx: Ctx) -> dict[str, Any]:
    """Move the sandbox clock forward by `seconds` (for every account), then run the clock
    hooks (subscription renewals and the like)."""
    p = ctx.params
    _only(p, ("seconds",))
    if "seconds" not in p:
        raise StripeError(
            "Missing required param: seconds.", code="parameter_missing", param="seconds"
        )
    seconds = _number(p, "seconds", 0, 10 * 366 * 86_400)
    assert seconds is not None
    sandbox = ctx.sandbox
    before = sandbox.now()
    sandbox.clock_offset += seconds
    for hook in list(sandbox.clock_hooks):
        hook(sandbox)
    return {**_clock_json(ctx), "previous": before, "advanced_seconds": seconds}
