"""POST /api/v1/time-entries/{id}/recall: a submitted entry goes back to draft, by its
technician (or an admin), until an approver decides; audited like submit."""

from __future__ import annotations

from typing import Any

from regentra.invoices import service as invoicing
from regentra.invoices.schemas import InvoiceCreate
from regentra.models import Org, User


def test_technician_recalls_a_submitted_entry_edits_and_resubmits(make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    entry = kit.entry(tech, minutes=60, status="submitted")
    with kit.api(tech) as api:
        assert api.get(f"/time-entries/{entry.id}").json()["submitted_at"] is not None
        r = api.post(f"/time-entries/{entry.id}/recall")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "draft" and body["submitted_at"] is None
        # A draft again: editable, and submitted anew.
        r = api.patch(f"/time-entries/{entry.id}", json={"minutes": 75})
        assert r.status_code == 200 and r.json()["minutes"] == 75
        assert api.post(f"/time-entries/{entry.id}/submit").json()["status"] == "submitted"
        # Recalling a draft is refused, with the reason.
        assert api.post(f"/time-entries/{entry.id}/recall").status_code == 200
        r = api.post(f"/time-entries/{entry.id}/recall")
        assert r.status_code == 409
        assert r.json()["error"] == {
            "code": "illegal_transition",
            "message": "cannot recall an entry that is draft: only submitted entries can be "
            "recalled",
        }
    with kit.api() as api:
        log = api.get("/audit-log", params={"subject_id": str(entry.id)}).json()["items"]
    recalls = [e for e in log if e["action"] == "time_entry.recalled"]
    assert len(recalls) == 2
    assert {e["actor_user_id"] for e in recalls} == {str(tech.id)}
    assert [e["action"] for e in reversed(log)] == [
        "time_entry.created",
        "time_entry.submitted",
        "time_entry.recalled",
        "time_entry.updated",
        "time_entry.submitted",
        "time_entry.recalled",
    ]


def test_no_recall_once_decided_or_invoiced(make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    approved = kit.entry(tech, status="approved", approver=approver)
    rejected = kit.entry(tech, status="rejected", approver=approver)
    billed = kit.entry(tech, status="approved", approver=approver)

    def bill(s: Any) -> None:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        data = InvoiceCreate(client_id=billed.client_id, entry_ids=[billed.id])
        invoicing.generate(s, org=org, user=admin, data=data)

    kit._commit(bill)
    with kit.api(tech) as api:
        r = api.post(f"/time-entries/{approved.id}/recall")
        assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
        assert "approved" in r.json()["error"]["message"]
        r = api.post(f"/time-entries/{rejected.id}/recall")
        assert r.status_code == 409 and "rejected" in r.json()["error"]["message"]
        r = api.post(f"/time-entries/{billed.id}/recall")
        assert r.status_code == 409 and r.json()["error"]["code"] == "entry_invoiced"
        statuses = [api.get(f"/time-entries/{e.id}").json()["status"] for e in (approved, billed)]
    assert statuses == ["approved", "approved"]


def test_only_the_technician_or_an_admin_recalls(make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    colleague = kit.add_user("technician")
    approver = kit.add_user("approver")
    entry = kit.entry(tech, status="submitted")
    with kit.api(colleague) as api:  # another technician does not even see it
        r = api.post(f"/time-entries/{entry.id}/recall")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    with kit.api(approver) as api:  # an approver sees it, but decides rather than recalls
        r = api.post(f"/time-entries/{entry.id}/recall")
        assert r.status_code == 403
        assert "only the technician who logged this entry" in r.json()["error"]["message"]
        assert api.get(f"/time-entries/{entry.id}").json()["status"] == "submitted"
    with kit.api() as api:  # an admin may, as for submit
        assert api.post(f"/time-entries/{entry.id}/recall").json()["status"] == "draft"
    with kit.api(tech) as api:
        r = api.post("/time-entries/not-a-uuid/recall")
        assert r.status_code == 422
