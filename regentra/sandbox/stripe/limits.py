"""Stripe's request rate limiters, as the sandbox enforces them (docs.stripe.com/rate-limits).

- The global limit counts every request of an account: 25 per second in test mode (Stripe's
  "sandbox"), 100 in live mode.
- Each endpoint has its own limit besides, 25 per second unless documented otherwise, in
  either mode. An endpoint is one named operation, `METHOD /v1/path/{id}`: requests for
  different ids count against the same endpoint (Stripe: "Requests to
  `GET /v1/payment_intents/{id}` for different PaymentIntent IDs count against the same
  endpoint limit").

A refused request is answered 429 with `error.code` `rate_limit` and the header
`Stripe-Rate-Limited-Reason` naming the limiter (`global-rate` or `endpoint-rate`), and does
not use up either budget. Windows are sliding: at most `limit` requests in any second.
Setting the test-mode limit to 0 turns every limiter off (tests that are not about limits).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Protocol

from regentra.sandbox.stripe.errors import StripeError

GLOBAL_RATE = "global-rate"
ENDPOINT_RATE = "endpoint-rate"
REASON_HEADER = "Stripe-Rate-Limited-Reason"
MESSAGE = (
    "Request rate limit exceeded. You can learn more about rate limits here "
    "https://stripe.com/docs/rate-limits."
)


class LimitSettings(Protocol):
    rate_limit: int
    live_rate_limit: int
    endpoint_rate_limit: int


def rate_limited() -> StripeError:
    return StripeError(MESSAGE, status=429, code="rate_limit")


class RateLimiter:
    """Sliding one-second windows per account and per (account, endpoint)."""

    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, account_key: str, *, livemode: bool, endpoint: str) -> str | None:
        """Count a request of `account_key` to `endpoint` ("GET /v1/products/{id}"), or say
        which limiter refuses it (`global-rate`, `endpoint-rate`) without counting it."""
        settings = self.settings
        if settings.rate_limit <= 0:
            return None
        account_limit = settings.live_rate_limit if livemode else settings.rate_limit
        checks = [((account_key, ""), account_limit, GLOBAL_RATE)]
        checks.append(((account_key, endpoint), settings.endpoint_rate_limit, ENDPOINT_RATE))
        now = time.monotonic()
        with self._lock:
            windows = []
            for key, limit, reason in checks:
                if limit <= 0:
                    continue
                window = self._windows.setdefault(key, deque())
                while window and now - window[0] >= 1.0:
                    window.popleft()
                if len(window) >= limit:
                    return reason
                windows.append(window)
            for window in windows:
                window.append(now)
        return None
