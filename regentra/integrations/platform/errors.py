"""Platform billing's errors."""

from __future__ import annotations

from regentra.errors import Conflict


class PlatformBillingOff(Conflict):
    code = "platform_billing_off"


BILLING_OFF = (
    "platform billing is off: no platform Stripe key is configured "
    "(set REGENTRA_PLATFORM_STRIPE_SECRET_KEY, or REGENTRA_PLATFORM_STRIPE_SECRET_KEY_FILE)"
)
