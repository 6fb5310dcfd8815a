"""(being written) Webhook delivery to registered targets."""

from __future__ import annotations

from regentra.sandbox.stripe.state import Sandbox


def start(sandbox: Sandbox) -> None:
    pass


def stop(sandbox: Sandbox) -> None:
    pass
