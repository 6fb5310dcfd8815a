"""QuickBooks errors: what Intuit's answers mean for the user and for a task.

`QuickBooksRejected` needs a fix before a retry (a validation fault: QuickBooks' own message
is kept); `QuickBooksUnavailable` is an outage, a timeout or a rate limit and also
`queue.Transient`, so a task retries it; `ReconnectNeeded` means the tokens are gone for good
(revoked, expired): postings wait until an admin connects again.
"""

from __future__ import annotations

from typing import Any

from regentra import queue
from regentra.errors import Conflict, RegentraError


class QuickBooksNotConfigured(RegentraError):
    """The server has no QuickBooks app keys (`REGENTRA_QBO_CLIENT_ID` / `_SECRET`)."""

    status = 409
    code = "quickbooks_not_configured"


class QuickBooksNotConnected(Conflict):
    """The org has no QuickBooks company connected."""

    code = "quickbooks_not_connected"


class ReconnectNeeded(Conflict):
    """Intuit refused the refresh token for good: an admin must connect again."""

    code = "quickbooks_reconnect_needed"


class QuickBooksRejected(RegentraError):
    """QuickBooks refused the request (a fault such as 6000, 2020, 610): fix, then retry.
    `fault_code` and `element` are Intuit's; the message is Intuit's words."""

    status = 422
    code = "quickbooks_rejected"

    def __init__(
        self,
        message: str,
        *,
        fault_code: str | None = None,
        element: str | None = None,
        http_status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.fault_code = fault_code
        self.element = element
        self.http_status = http_status


class QuickBooksUnavailable(RegentraError, queue.Transient):
    """QuickBooks could not be reached, failed (5xx) or is rate-limiting (429): retry later."""

    status = 503
    code = "quickbooks_unavailable"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
