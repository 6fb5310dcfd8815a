"""Send an invoice through the org's Stripe account, and void it there.

(Interface fixed; implementation in progress.)
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from regentra.models import Invoice, Org, User


def send(session: Session, *, org: Org, user: User, invoice_id: uuid.UUID) -> Invoice:
    """Draft → sent through Stripe (409 `stripe_not_connected` when Stripe is not
    connected). Crash-safe: every Stripe call carries a deterministic idempotency key."""
    raise NotImplementedError


def void(
    session: Session, *, org: Org, user: User, invoice_id: uuid.UUID, release_entries: bool
) -> Invoice:
    """Void the invoice here and, when it was sent, in Stripe (not when paid: 409)."""
    raise NotImplementedError
