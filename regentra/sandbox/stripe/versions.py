"""(being written) Event payloads shaped for an endpoint's API version."""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe.state import Account, Sandbox


def shape_event(
    sandbox: Sandbox, account: Account, event: dict[str, Any], api_version: str | None
) -> dict[str, Any]:
    """The event as delivered to an endpoint pinned to `api_version` (None: the pinned one)."""
    return event
