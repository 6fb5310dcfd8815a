"""Restricted keys (`rk_test_…`): what each may do, as Stripe checks it.

A restricted key acts on the account of the secret key that made it (`Sandbox.aliases`) and
holds a permission per resource: `read` or `write`, where write implies read; a GET needs
read, a POST or DELETE write (docs.stripe.com/keys). A call outside its permissions gets
Stripe's 403 `invalid_request_error` naming the `rak_<resource>_<access>` permission that
would allow it; `GET /v1/account`, and any endpoint not mapped here, are refused outright, as
Stripe refuses endpoints whose permissions "are not available for use by restricted keys".
The control API (`/_sandbox/…`, the Dashboard's side) takes the secret key only.

Resource ids are Stripe's permission names (stripe.com/docs/security/permissions:
`customer_read`, `invoice_write`, …); `RESOURCES` gives the name the Dashboard shows.
"""

from __future__ import annotations

from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.state import Account

# Permission id → the resource's name on the Dashboard's restricted key form.
RESOURCES = {
    "balance": "Balance",
    "charge": "Charges",
    "checkout_session": "Checkout Sessions",
    "customer": "Customers",
    "event": "Events",
    "invoice": "Invoices",
    "payment_intent": "PaymentIntents",
    "payment_method": "PaymentMethods",
    "price": "Prices",
    "product": "Products",
    "subscription": "Subscriptions",
    "webhook": "Webhook Endpoints",
}
ACCESS = ("read", "write")

# Path prefix → permission id; the first match wins (longer prefixes first).
_PREFIXES = (
    ("/v1/balance_transactions", "balance"),
    ("/v1/balance", "balance"),
    ("/v1/charges", "charge"),
    ("/v1/checkout/sessions", "checkout_session"),
    ("/v1/customers", "customer"),
    ("/v1/events", "event"),
    ("/v1/invoiceitems", "invoice"),
    ("/v1/invoice_payments", "invoice"),
    ("/v1/invoices", "invoice"),
    ("/v1/payment_intents", "payment_intent"),
    ("/v1/payment_methods", "payment_method"),
    ("/v1/prices", "price"),
    ("/v1/products", "product"),
    ("/v1/subscription_items", "subscription"),
    ("/v1/subscriptions", "subscription"),
    ("/v1/webhook_endpoints", "webhook"),
)


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
