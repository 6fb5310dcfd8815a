"""The client's Customer in the org's Stripe account: found again or made, and kept up to date.

Step 1 of a send (`sending`): the stored Customer (retrieved; name and email brought up to
date), else one listed by email that carries our client id in its metadata, else a new one;
its id is stored on the client and committed.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.orm import Session

from regentra.integrations.stripe.client import (
    OrgStripe,
    as_dict,
    fingerprint,
    get,
    idempotency_key,
    post,
)
from regentra.models import Client, Org

log = structlog.get_logger(__name__)

CUSTOMER_OP = "customer"


def ensure_customer(session: Session, stripe: OrgStripe, *, org: Org, client: Client) -> str:
    """The client's Customer id in the org's Stripe account (found or made, and stored)."""
    wanted = {"name": client.name, "email": client.billing_email}
    replaces = None
    if client.stripe_customer_id:
        stored = client.stripe_customer_id
        found = as_dict(
            stripe.find(lambda c: get(c, f"/v1/customers/{stored}"), op="customers.retrieve")
        )
        if found is not None and not found.get("deleted"):
            _update_customer(stripe, found, wanted, client=client)
            return stored
        # Deleted in Stripe, or the org connected another Stripe account since.
        log.warning(
            "stored Stripe customer is gone; finding or making another",
            org_id=str(org.id),
            client_id=str(client.id),
            stripe_customer_id=stored,
        )
        replaces = stored
    customer_id = None
    for listed in stripe.pages(
        "/v1/customers", {"email": client.billing_email, "limit": 100}, op="customers.list"
    ):
        ours = (listed.get("metadata") or {}).get("regentra_client_id") == str(client.id)
        if ours and not listed.get("deleted"):
            customer_id = str(listed["id"])
            _update_customer(stripe, listed, wanted, client=client)
            break
    if customer_id is None:
        params = {
            **wanted,
            "metadata": {"regentra_org_id": str(org.id), "regentra_client_id": str(client.id)},
        }
        key = idempotency_key(
            CUSTOMER_OP, f"{client.id}:{fingerprint({**params, 'replaces': replaces})}"
        )
        created = as_dict(
            stripe.call(lambda c: post(c, "/v1/customers", params, key), op="customers.create")
        )
        assert created is not None
        customer_id = str(created["id"])
    client.stripe_customer_id = customer_id
    session.commit()
    return customer_id


def _update_customer(
    stripe: OrgStripe, found: dict[str, Any], wanted: dict[str, str], *, client: Client
) -> None:
    """Bring the Customer's name and email up to date: Stripe emails the invoice there.

    The idempotency key names the client's version (its `updated_at`) besides the change, so
    a retry of this send replays, but a later edit back to an earlier value (email A → B → A
    → B within Stripe's 24 h) is a new request instead of a replay of the older update."""
    changes = {name: value for name, value in wanted.items() if found.get(name) != value}
    if not changes:
        return
    customer_id = str(found["id"])
    version = client.updated_at.isoformat() if client.updated_at else ""
    key = idempotency_key(
        "customer-update", f"{customer_id}:{fingerprint({'changes': changes, 'of': version})}"
    )
    stripe.call(
        lambda c: post(c, f"/v1/customers/{customer_id}", changes, key), op="customers.update"
    )
