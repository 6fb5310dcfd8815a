"""Ticket errors: each names one condition and carries its HTTP status and `code`."""

from __future__ import annotations

from regentra.errors import Conflict, Invalid


class UnknownTicket(Invalid):
    """A `ticket_id` in a request names no ticket of the org."""

    code = "unknown_ticket"


class TicketClosed(Conflict):
    """The ticket is closed, so no time can be logged against it."""

    code = "ticket_closed"
