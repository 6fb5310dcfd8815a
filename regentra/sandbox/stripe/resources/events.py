"""Events (list, retrieve) and webhook endpoints (create, retrieve, update, list, delete).

Endpoints created here and those added through `/_sandbox/webhooks` are one set: both are
listed here and both receive deliveries (see `webhooks.py`).
"""

from __future__ import annotations

import re
from typing import Any

from regentra.sandbox.stripe import listing, webhooks
from regentra.sandbox.stripe.errors import StripeError, missing
from regentra.sandbox.stripe.resources._util import apply, merge_metadata
from regentra.sandbox.stripe.routing import Ctx, Router

router = Router()

MAX_TYPES = 20


def _type_matcher(pattern: str) -> re.Pattern[str]:
    """`type` may name a group with `*` wildcards, e.g. `invoice.*`."""
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


@router.route("GET", "/v1/events", "EventListParams")
def list_events(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    items = ctx.sandbox.all(ctx.account, "event")
    if "type" in p and "types" in p:
        raise StripeError(
            "You may only specify one of these parameters: type, types.", param="types"
        )
    if "type" in p:
        matcher = _type_matcher(p["type"])
        items = [e for e in items if matcher.match(e["type"])]
    if "types" in p:
        if len(p["types"]) > MAX_TYPES:
            raise StripeError(
                f"Invalid array: types can have at most {MAX_TYPES} elements.", param="types"
            )
        wanted = set(p["types"])
        items = [e for e in items if e["type"] in wanted]
    if "delivery_success" in p:
        # true: every endpoint got it; false: still pending or failed at some endpoint.
        delivered = p["delivery_success"]
        items = [e for e in items if (e.get("pending_webhooks", 0) == 0) == delivered]
    return listing.page(items, p, "/v1/events", kind="event")


@router.route("GET", "/v1/events/{id}", "EventRetrieveParams")
def retrieve_event(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("event", ctx.path["id"])


def _endpoint(ctx: Ctx) -> dict[str, Any]:
    target = webhooks.find_endpoint(ctx.account, ctx.path["id"])
    if target is None:
        raise missing("webhook_endpoint", ctx.path["id"])
    return target


@router.route("POST", "/v1/webhook_endpoints", "WebhookEndpointCreateParams")
def create_webhook_endpoint(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    if not p["enabled_events"]:
        raise StripeError(
            "Missing required param: enabled_events.",
            code="parameter_missing",
            param="enabled_events",
        )
    target = webhooks.add_endpoint(
        ctx.sandbox,
        ctx.account,
        url=webhooks.check_url(p["url"]),
        enabled_events=p["enabled_events"],
        api_version=p.get("api_version"),
        description=p.get("description") or None,
        metadata=merge_metadata({}, p.get("metadata", {})),
        source="api",
    )
    return webhooks.public_endpoint(ctx.account, target, with_secret=True)


@router.route("GET", "/v1/webhook_endpoints/{id}", "WebhookEndpointRetrieveParams")
def retrieve_webhook_endpoint(ctx: Ctx) -> dict[str, Any]:
    return webhooks.public_endpoint(ctx.account, _endpoint(ctx))


@router.route("POST", "/v1/webhook_endpoints/{id}", "WebhookEndpointUpdateParams")
def update_webhook_endpoint(ctx: Ctx) -> dict[str, Any]:
    target = _endpoint(ctx)
    p = dict(ctx.params)
    if "url" in p:
        p["url"] = webhooks.check_url(p["url"])
    if "enabled_events" in p and not p["enabled_events"]:
        raise StripeError(
            "Invalid array: enabled_events must not be empty.", param="enabled_events"
        )
    if "disabled" in p:
        target["status"] = "disabled" if p.pop("disabled") else "enabled"
    apply(target, p, ("url", "enabled_events", "description"))
    return webhooks.public_endpoint(ctx.account, target)


@router.route("DELETE", "/v1/webhook_endpoints/{id}", "WebhookEndpointDeleteParams")
def delete_webhook_endpoint(ctx: Ctx) -> dict[str, Any]:
    target = _endpoint(ctx)
    webhooks.remove_endpoint(ctx.sandbox, ctx.account, target["id"])
    return {"id": target["id"], "object": "webhook_endpoint", "deleted": True}


@router.route("GET", "/v1/webhook_endpoints", "WebhookEndpointListParams")
def list_webhook_endpoints(ctx: Ctx) -> dict[str, Any]:
    items = [
        webhooks.public_endpoint(ctx.account, t) for t in reversed(ctx.account.webhook_targets)
    ]
    return listing.page(items, ctx.params, "/v1/webhook_endpoints", kind="webhook_endpoint")
