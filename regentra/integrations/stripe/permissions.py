"""What a restricted key (`rk_…`) must be allowed to do for Regentra, and Test Connection's
check of it.

A restricted key may not read the account (`GET /v1/account` is refused to every restricted
key), so its Test Connection asks Stripe for what Regentra actually uses instead: one `limit=1`
list of each resource it reads, and for each resource it writes an update of an id that does
not exist (nothing is created or changed): 403 means the permission is missing, 404 that it is
there. Each missing permission is named as the Stripe Dashboard's restricted key form names it.

What Regentra calls (and so what `REQUIRED` lists): the catalog sync lists Products and
Prices; sending an invoice finds, creates and updates Customers, and creates, updates,
finalizes, sends, voids and deletes Invoices and their invoice items (Invoices permission);
reconciliation lists Events and Invoices; the paid-invoice handler reads PaymentIntents and
invoice payments; the QuickBooks fee posting reads a PaymentIntent with its charge and the
charge's balance transaction expanded (Charges and Balance, read: an expanded object needs
its own permission); refunds are made from Regentra and, with disputes and payouts, read back
(their events and reconciliation: Refunds write, Disputes and Payouts read). Webhook
endpoints are added by the admin in the Dashboard, not by Regentra.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from regentra.integrations.stripe.client import OrgStripe, idempotency_key
from regentra.integrations.stripe.errors import StripePermissionDenied

Access = Literal["Read", "Write"]
PROBE_OP = "permission-check"


@dataclass(frozen=True)
class Permission:
    resource: str  # as the Dashboard names it
    access: Access
    why: str

    @property
    def label(self) -> str:
        return f"{self.resource} ({self.access})"

    def to_json(self) -> dict[str, str]:
        return {"resource": self.resource, "access": self.access, "why": self.why}


REQUIRED: tuple[Permission, ...] = (
    Permission("Products", "Read", "the Service Catalog is filled from your Stripe products"),
    Permission("Prices", "Read", "catalog items take their price from Stripe"),
    Permission("Customers", "Write", "each client becomes a Stripe customer when invoiced"),
    Permission("Invoices", "Write", "invoices and their lines are created and sent in Stripe"),
    Permission("Events", "Read", "reconciliation reads payment events Stripe sent"),
    Permission("PaymentIntents", "Read", "a paid invoice's payment and its fee are read"),
    Permission("Charges", "Read", "the charge of a paid invoice is read for its fee"),
    Permission("Balance", "Read", "the fee is read from the charge's balance transaction"),
    Permission("Refunds", "Write", "refunds are made from Regentra and read back from Stripe"),
    Permission("Disputes", "Read", "disputed payments are shown on their invoices and booked"),
    Permission("Payouts", "Read", "payouts to your bank are listed and booked in QuickBooks"),
)
_BY_RESOURCE = {p.resource: p for p in REQUIRED}


def _probes(run: str) -> list[tuple[str, Callable[[Any], Any], str]]:
    """(resource, call, op) for every permission in `REQUIRED`. Writes update ids that cannot
    exist, with idempotency keys of this run only (a refusal must not be replayed once the
    key has the permission)."""

    def update(service: str, fake_id: str) -> Callable[[Any], Any]:
        key = idempotency_key(PROBE_OP, f"{run}:{service}")

        def call(c: Any) -> Any:
            params = {"metadata": {"regentra_permission_check": ""}}
            return getattr(c.v1, service).update(fake_id, params, {"idempotency_key": key})

        return call

    def first(service: str) -> Callable[[Any], Any]:
        return lambda c: getattr(c.v1, service).list({"limit": 1})

    missing_id = f"regentra_permission_check_{run}"
    return [
        ("Products", first("products"), "products.list"),
        ("Prices", first("prices"), "prices.list"),
        ("Customers", first("customers"), "customers.list"),
        ("Customers", update("customers", f"cus_{missing_id}"), "customers.update"),
        ("Invoices", first("invoices"), "invoices.list"),
        ("Invoices", update("invoices", f"in_{missing_id}"), "invoices.update"),
        ("Events", first("events"), "events.list"),
        ("PaymentIntents", first("payment_intents"), "payment_intents.list"),
        ("Charges", first("charges"), "charges.list"),
        ("Balance", first("balance_transactions"), "balance_transactions.list"),
        ("Refunds", first("refunds"), "refunds.list"),
        ("Refunds", update("refunds", f"re_{missing_id}"), "refunds.update"),
        ("Disputes", first("disputes"), "disputes.list"),
        ("Payouts", first("payouts"), "payouts.list"),
    ]


def missing_permissions(stripe: OrgStripe) -> list[Permission]:
    """The permissions in `REQUIRED` the key lacks (empty: it has them all). Raises the
    client's `RegentraError` for anything else (key rejected, Stripe unreachable, …)."""
    run = uuid.uuid4().hex[:16]
    lacking: dict[str, Permission] = {}
    for resource, call, op in _probes(run):
        if resource in lacking:
            continue  # already known to be missing
        try:
            stripe.find(call, op=op)  # a write probe's 404 is None: the permission is there
        except StripePermissionDenied:
            lacking[resource] = _BY_RESOURCE[resource]
    return [p for p in REQUIRED if p.resource in lacking]


def describe_missing(missing: list[Permission]) -> str:
    names = ", ".join(p.label for p in missing)
    return (
        f"This restricted key lacks {names}. In the Stripe Dashboard (Developers → API keys), "
        "edit the key and give it those permissions, then test again."
    )
