"""Time entry errors: each names one condition and carries its HTTP status and `code`."""

from __future__ import annotations

from regentra.errors import Conflict, Forbidden, Invalid


class UnknownTechnician(Invalid):
    """A `technician_id` names no user of the org."""

    code = "unknown_technician"


class EntryInvoiced(Conflict):
    """The entry is on an invoice: it can no longer change."""

    code = "entry_invoiced"

    def __init__(self) -> None:
        super().__init__("this entry has been invoiced and can no longer change")


class IllegalTransition(Conflict):
    """The entry's status does not allow this step (submit, recall, approve, reject, un-approve)."""

    code = "illegal_transition"


class EntryNotEditable(Conflict):
    """Only draft or rejected entries can be edited."""

    code = "not_editable"


class SelfApproval(Forbidden):
    """An approver acting on their own time, in an org that does not allow it."""

    code = "self_approval"
