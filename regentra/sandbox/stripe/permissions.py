"""Restricted keys (`rk_test_…`): what each may do, as Stripe checks it.

A restricted key acts on the account of the secret key that made it (`Sandbox.aliases`) and
holds a permission per resource: `read` or `write`, where write implies read; a GET needs
read, a POST or DELETE write (docs.stripe.com/keys). A call outside its permissions gets
Stripe's 403 `invalid_request_error` naming the `rak_<resource>_<access>` permission that
would allow it; `GET /v1/account`, and any endpoint not mapped here, are refused outright, as
Stripe refuses endpoints whose permissions "are not available for use by restricted keys".
The control API (`/_sandbox/…`, the Dashboard's side) takes the secret key only. An object
brought in by `expand[]` needs read permission on its resource too (Stripe documents this for
Stripe Apps, whose permissions are the same; for restricted keys the docs are silent, so the
stricter reading).

Resource ids are Stripe's permission names (stripe.com/docs/security/permissions:
`customer_read`, `invoice_write`, …); `RESOURCES` gives the name the Dashboard shows.
"""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.state import Account

# Permission id → the resource's name on the Dashboard's restricted key form.
RESOURCES = {
    "balance": "Balance",
    "billing_meter": "Meters",
    "charge": "Charges",
    "checkout_session": "Checkout Sessions",
    "coupon": "Coupons",
    "customer": "Customers",
    "dispute": "Disputes",
    "event": "Events",
    "invoice": "Invoices",
    "payment_intent": "PaymentIntents",
    "payment_method": "PaymentMethods",
    "payout": "Payouts",
    "price": "Prices",
    "product": "Products",
    "refund": "Refunds",
    "subscription": "Subscriptions",
    "webhook": "Webhook Endpoints",
}
ACCESS = ("read", "write")

# Path prefix → permission id; the first match wins (longer prefixes first).
_PREFIXES = (
    ("/v1/balance_transactions", "balance"),
    ("/v1/balance", "balance"),
    ("/v1/billing/meters", "billing_meter"),
    ("/v1/charges", "charge"),
    ("/v1/checkout/sessions", "checkout_session"),
    ("/v1/coupons", "coupon"),
    ("/v1/customers", "customer"),
    ("/v1/disputes", "dispute"),
    ("/v1/events", "event"),
    ("/v1/invoiceitems", "invoice"),
    ("/v1/invoice_payments", "invoice"),
    ("/v1/invoices", "invoice"),
    ("/v1/payment_intents", "payment_intent"),
    ("/v1/payment_methods", "payment_method"),
    ("/v1/payouts", "payout"),
    ("/v1/prices", "price"),
    ("/v1/products", "product"),
    ("/v1/refunds", "refund"),
    ("/v1/subscription_items", "subscription"),
    ("/v1/subscriptions", "subscription"),
    ("/v1/webhook_endpoints", "webhook"),
)


# Object type (`object`) → permission id, for expanded objects.
_OBJECTS = {
    "balance_transaction": "balance",
    "billing.meter": "billing_meter",
    "charge": "charge",
    "checkout.session": "checkout_session",
    "coupon": "coupon",
    "customer": "customer",
    "customer_balance_transaction": "customer",
    "discount": "coupon",
    "dispute": "dispute",
    "event": "event",
    "invoice": "invoice",
    "invoiceitem": "invoice",
    "invoice_payment": "invoice",
    "line_item": "checkout_session",
    "payment_intent": "payment_intent",
    "payment_method": "payment_method",
    "payout": "payout",
    "price": "price",
    "product": "product",
    "refund": "refund",
    "subscription": "subscription",
    "subscription_item": "subscription",
    "webhook_endpoint": "webhook",
}


def is_restricted(key: str) -> bool:
    return key.startswith("rk_")


def resource_of(path: str) -> str | None:
    """The permission id a `/v1/…` path needs (None: restricted keys may not call it)."""
    for prefix, resource in _PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return resource
    return None


def redact(key: str) -> str:
    """A key as Stripe's messages show it: the prefix, stars, the last six characters."""
    head = key[:8]
    return head + "*" * max(0, len(key) - 14) + key[-6:]


def _denied(key: str, account: Account, tail: str) -> StripeError:
    return StripeError(
        f"The provided key '{redact(key)}' does not have the required permissions for this "
        f"endpoint on account '{account.id}'. {tail}",
        status=403,
    )


def check(key: str, account: Account, method: str, path: str, *, control: bool) -> None:
    """Raise Stripe's 403 when restricted `key` may not make this request."""
    if not is_restricted(key):
        return
    if control:
        raise StripeError(
            "The sandbox's control API (the Dashboard's side) takes the account's secret key, "
            "not a restricted key.",
            status=403,
        )
    resource = resource_of(path)
    if resource is None:
        raise _denied(
            key,
            account,
            "This is a restricted API key, but the required permissions are not available "
            "for use by restricted keys.",
        )
    granted = account.restricted_keys.get(key, {}).get(resource)
    needed = "read" if method == "GET" else "write"
    if granted == "write" or granted == needed:
        return
    raise _denied(
        key,
        account,
        f"Having the 'rak_{resource}_{needed}' permission would allow this request to continue.",
    )


def _expanded(body: Any, paths: list[str]) -> list[str | None]:
    """The permission ids of the objects `paths` expanded in `body` (None: an object type
    restricted keys may not read)."""
    found: list[str | None] = []

    def note(obj: Any) -> None:
        if isinstance(obj, dict) and "object" in obj:
            found.append(_OBJECTS.get(obj["object"]))

    def walk(node: Any, parts: list[str]) -> None:
        if not parts or not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if node.get("object") == "list" and head == "data":
            for item in node.get("data") or []:
                walk(item, rest)
            return
        value = node.get(head)
        if isinstance(value, dict) and value.get("object") == "list":
            for item in value.get("data") or []:
                note(item)
        else:
            note(value)
        walk(value, rest)

    for path in paths:
        walk(body, path.split("."))
    return found


def check_expanded(key: str, account: Account, body: Any, paths: list[str]) -> None:
    """Raise Stripe's 403 when restricted `key` may not read an object it asked to expand."""
    if not is_restricted(key):
        return
    granted = account.restricted_keys.get(key, {})
    for resource in _expanded(body, paths):
        if resource is None:
            raise _denied(
                key,
                account,
                "This is a restricted API key, but the required permissions are not available "
                "for use by restricted keys.",
            )
        if granted.get(resource) not in ACCESS:
            raise _denied(
                key,
                account,
                f"Having the 'rak_{resource}_read' permission would allow this request to "
                "continue.",
            )
