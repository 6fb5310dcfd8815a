"""(being written)"""

from __future__ import annotations

from regentra.sandbox.stripe.routing import Router

router = Router()
