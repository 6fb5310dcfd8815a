"""Client errors: each names one condition and carries its HTTP status and `code`."""

from __future__ import annotations

from regentra.errors import Invalid


class UnknownClient(Invalid):
    """A `client_id` in a request names no client of the org."""

    code = "unknown_client"
