"""(being written)"""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe.state import Sandbox


def routes(sandbox: Sandbox) -> list[Any]:
    return []
