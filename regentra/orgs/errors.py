"""Org errors: each names one condition and carries its HTTP status and `code`."""

from __future__ import annotations

from regentra.errors import Conflict


class StripeNotConnected(Conflict):
    """The org has not connected its Stripe account (no secret key stored). Raised by the
    domains that need it (catalog sync) and by the Stripe integration; the message says
    what to do in the place it is raised."""

    code = "stripe_not_connected"


class LastActiveAdmin(Conflict):
    """The change would leave the org without an active admin (nobody could manage it)."""

    code = "last_active_admin"
