"""The only module that imports `stripe`. (Interface; being implemented.)

One `StripeClient` per org key, the SDK's pinned API version, base URL from
REGENTRA_STRIPE_API_BASE, timeouts, `max_network_retries=2`, a per-org throttle that holds
across processes, 429 back-off, and Stripe errors turned into `RegentraError`s a person can
act on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


def idempotency_key(op: str, our_id: uuid.UUID | str) -> str:
    """Deterministic idempotency key for a create or state change: `regentra:<op>:<id>`."""
    return f"regentra:{op}:{our_id}"


class OrgStripe:
    """Stripe for one org (one secret key)."""

    def __init__(self, *, org_id: uuid.UUID, secret_key: str) -> None:
        self.org_id = org_id
        self._secret_key = secret_key

    def call(self, fn: Callable[[Any], T], *, op: str) -> T:
        """Run `fn(stripe_client)` with the org's throttle, 429 back-off and error mapping.
        `op` names the operation for logs and messages (e.g. "products.list")."""
        raise NotImplementedError

    def iterate(self, list_fn: Callable[[Any], Any], *, op: str) -> Iterator[dict[str, Any]]:
        """Every object of a list call, across pages (each page fetched through `call`),
        as plain dicts (`to_dict()`)."""
        raise NotImplementedError

    def retrieve_account(self) -> dict[str, Any]:
        """GET /v1/account as a dict."""
        raise NotImplementedError


def for_org(session: Session, org_id: uuid.UUID) -> OrgStripe:
    """The org's client from its stored (encrypted) secret key; Conflict (409) pointing to
    Settings → Integrations when Stripe is not connected."""
    raise NotImplementedError
