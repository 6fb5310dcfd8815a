"""Event payloads shaped for an endpoint's API version.

Stripe renders a webhook payload at the receiving endpoint's API version. What matters here:
before 2025-03-31 ("basil") an Invoice carried `charge`, `payment_intent` and `paid` (and
`subscription` at the top level); since then payments are the includable `payments` list and
the subscription sits under `parent.subscription_details`.
"""

from __future__ import annotations

import copy
from typing import Any

from regentra.sandbox.stripe.state import Account, Sandbox

BASIL = "2025-03-31"


def _date(version: str) -> str:
    return version[:10]


def older_than_basil(api_version: str | None) -> bool:
    return api_version is not None and _date(api_version) < BASIL


def legacy_invoice(account: Account, invoice: dict[str, Any]) -> dict[str, Any]:
    """An invoice (as it was in an event) in the shape of API versions before 2025-03-31:
    `charge` is the charge of its latest payment attempt then (call under the lock)."""
    shaped = {k: v for k, v in invoice.items() if k != "payments"}
    intents = {
        payment["payment"].get("payment_intent")
        for payment_id in account.order.get("invoice_payment", [])
        if (payment := account.objects[payment_id])["invoice"] == invoice.get("id")
    }
    charges = [
        account.objects[charge_id]
        for charge_id in account.order.get("charge", [])
        if account.objects[charge_id].get("payment_intent") in intents
    ]
    attempts = invoice.get("attempt_count") or 0
    charge = charges[min(attempts, len(charges)) - 1] if attempts and charges else None
    parent = invoice.get("parent") or {}
    shaped["charge"] = charge["id"] if charge else None
    shaped["payment_intent"] = charge["payment_intent"] if charge else None
    shaped["paid"] = invoice.get("status") == "paid"
    shaped["subscription"] = (parent.get("subscription_details") or {}).get("subscription")
    return shaped


def shape_event(
    sandbox: Sandbox, account: Account, event: dict[str, Any], api_version: str | None
) -> dict[str, Any]:
    """The event as delivered to an endpoint pinned to `api_version` (None: the pinned one)."""
    if not older_than_basil(api_version):
        return event  # None, the pinned version, or any version since basil
    data = event.get("data") or {}
    obj = data.get("object")
    if not isinstance(obj, dict) or obj.get("object") != "invoice":
        return event
    shaped = copy.deepcopy(event)
    with sandbox.lock:
        shaped["data"]["object"] = legacy_invoice(account, obj)
    return shaped
