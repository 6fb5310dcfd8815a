"""Hourly, self-healing reconciliation of open invoices against Stripe.

(Interface fixed; implementation in progress.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Report:
    org_id: uuid.UUID
    ok: bool = True
    message: str = ""
    open_invoices: int = 0
    paid: list[str] = field(default_factory=list)  # our invoice numbers moved to paid
    warnings: list[str] = field(default_factory=list)
    stripe_calls: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "org_id": str(self.org_id),
            "ok": self.ok,
            "message": self.message,
            "open_invoices": self.open_invoices,
            "paid": self.paid,
            "warnings": self.warnings,
            "stripe_calls": self.stripe_calls,
        }


def reconcile_org(org_id: uuid.UUID) -> Report:
    """Reconcile one org (opens its own sessions; commits its own work)."""
    raise NotImplementedError


def reconcile_all(*, org_id: uuid.UUID | None = None) -> list[Report]:
    """Every org with Stripe connected (or just `org_id`); one org's failure is recorded on
    its connection and does not stop the others."""
    raise NotImplementedError
