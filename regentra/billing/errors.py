"""Platform billing's refusals."""

from __future__ import annotations

from regentra.errors import Conflict


class SubscriptionRequired(Conflict):
    code = "subscription_required"
