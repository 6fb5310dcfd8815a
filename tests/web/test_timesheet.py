"""The weekly timesheet (GET /time/week): tickets by days with totals, quick entry, submitting
the week, recalling a submitted entry, and entry statuses through to Invoiced and Paid."""

from __future__ import annotations

import html
import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from regentra.audit.service import Actor
from regentra.invoices import service as invoicing
from regentra.invoices import transitions
from regentra.invoices.schemas import InvoiceCreate
from regentra.kit.time import utcnow
from regentra.models import AuditEvent, Org, TimeEntry, User
from regentra.time_entries.week import week_start
from web.pages import PageClient, flash, form_error, misaligned_headers


def monday_of_last_week(kit: Any) -> date:
    """A week wholly in the past (work dates may not be in the future)."""
    return week_start(transitions.org_today(kit.org)) - timedelta(days=7)


def status_of(kit: Any, entry_id: uuid.UUID) -> str:
    with kit.db.session() as s:
        entry = s.get(TimeEntry, entry_id)
        assert entry is not None
        return entry.status


def entry_statuses(page_html: str) -> dict[str, str]:
    """What the page shows for each entry: data-entry-id → data-status."""
    pairs = re.findall(r'data-entry-id="([^"]+)" data-status="([^"]+)"', page_html)
    return dict(pairs)


def cell(page_html: str, ticket_id: uuid.UUID, day: date) -> str:
    """The grid cell of a ticket's row on a day (its opening tag and content)."""
    row = page_html.split(f'<tr data-ticket-id="{ticket_id}">')[1].split("</tr>")[0]
    return row.split(f'data-day="{day.isoformat()}"')[1].split("</td>")[0]


def bill(kit: Any, entry: TimeEntry, *, paid: bool) -> uuid.UUID:
    """An invoice for the entry's client billing it; sent and paid when `paid`."""
    with kit.db.session() as s:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        data = InvoiceCreate(client_id=entry.client_id, entry_ids=[entry.id])
        invoice = invoicing.generate(s, org=org, user=admin, data=data)
        if paid:
            stripe_id = f"in_test_{uuid.uuid4().hex[:20]}"
            transitions.mark_sent(
                s,
                invoice=invoice,
                actor=Actor.system(),
                stripe_invoice_id=stripe_id,
                hosted_invoice_url=None,
                due_date=None,
            )
            done = transitions.mark_paid(
                s,
                org_id=kit.org.id,
                stripe_invoice_id=stripe_id,
                paid_at=utcnow(),
                amount_paid=invoice.total,
                source="webhook",
            )
            assert done is not None
        s.commit()
        return invoice.id


def test_week_grid_has_tickets_by_days_with_totals_and_every_status(
    make_org: Any, site: Any
) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    other = kit.add_user("technician")
    client = kit.client("Acme Dental")
    printer = kit.ticket(client, title="Printer on fire")
    vpn = kit.ticket(client, title="VPN drops")
    monday = monday_of_last_week(kit)
    tuesday, wednesday, sunday = (monday + timedelta(days=n) for n in (1, 2, 6))
    draft = kit.entry(tech, ticket=printer, minutes=60, work_date=monday)
    draft_too = kit.entry(tech, ticket=printer, minutes=15, work_date=monday)
    submitted = kit.entry(tech, ticket=vpn, minutes=90, status="submitted", work_date=tuesday)
    rejected = kit.entry(tech, ticket=vpn, minutes=30, status="rejected", work_date=wednesday)
    approved = kit.entry(tech, ticket=printer, minutes=45, status="approved", work_date=sunday)
    invoiced = kit.entry(tech, ticket=vpn, minutes=20, status="approved", work_date=sunday)
    paid = kit.entry(tech, ticket=vpn, minutes=10, status="approved", work_date=sunday)
    bill(kit, invoiced, paid=False)
    bill(kit, paid, paid=True)
    elsewhere = kit.entry(tech, ticket=printer, minutes=5, work_date=monday - timedelta(days=1))
    not_mine = kit.entry(other, ticket=printer, minutes=7, work_date=monday)
    with PageClient(site) as page:
        page.login(tech.email)
        r = page.get("/time/week", params={"week": wednesday.isoformat()})  # any day of it
        assert r.status_code == 200, r.text
        text = r.text
    assert f'data-week="{monday.isoformat()}"' in text
    assert f"Week of {monday.strftime('%-d %b %Y')}" in text
    assert "<caption" in text and 'scope="row"' in text and 'scope="col"' in text
    assert misaligned_headers(text) == []
    # Statuses as people read them, Invoiced and Paid from the entry's invoice.
    assert entry_statuses(text) == {
        str(draft.id): "draft",
        str(draft_too.id): "draft",
        str(submitted.id): "submitted",
        str(rejected.id): "rejected",
        str(approved.id): "approved",
        str(invoiced.id): "invoiced",
        str(paid.id): "paid",
    }
    assert str(elsewhere.id) not in text and str(not_mine.id) not in text
    # One row per ticket, a cell per day, durations as entered, totals per day and week.
    assert text.count("<tr data-ticket-id=") == 2
    assert text.index(html.escape(printer.title)) < text.index(html.escape(vpn.title))
    monday_cell = cell(text, printer.id, monday)
    assert 'data-minutes="75"' in monday_cell
    assert ">1:00<" in monday_cell and ">0:15<" in monday_cell
    assert 'data-minutes="0"' in cell(text, printer.id, tuesday)
    assert ">1:30<" in cell(text, vpn.id, tuesday)
    assert f'data-day-total="{monday.isoformat()}" data-minutes="75"' in text
    assert f'data-day-total="{sunday.isoformat()}" data-minutes="75"' in text  # 45 + 20 + 10
    assert f'data-day-total="{wednesday.isoformat()}" data-minutes="30"' in text
    total = 60 + 15 + 90 + 30 + 45 + 20 + 10
    assert f'id="week-total" data-minutes="{total}"' in text
    assert "<strong>4:30</strong>" in text.split('id="week-total"')[1].split("</td>")[0]
    # Drafts and rejected entries are edited from the grid; only the submitted one recalls.
    assert f'href="/time/{draft.id}/edit"' in text and f'href="/time/{rejected.id}/edit"' in text
    assert f'href="/time/{approved.id}/edit"' not in text
    assert text.count('data-action="recall"') == 1
    assert f'action="/time/{submitted.id}/recall"' in text
    assert 'id="submit-week"' in text and "2 drafts this week" in text
    # Weeks either side, and back to this one.
    assert f'href="/time/week?week={(monday - timedelta(days=7)).isoformat()}"' in text
    assert f'href="/time/week?week={(monday + timedelta(days=7)).isoformat()}"' in text
    assert 'id="this-week"' in text


def test_default_week_is_this_week_in_the_orgs_time_zone(make_org: Any, site: Any) -> None:
    kit = make_org()
    with kit.db.session() as s:  # 14 hours ahead of UTC: often already tomorrow there
        s.execute(update(Org).where(Org.id == kit.org.id).values(timezone="Pacific/Kiritimati"))
        s.commit()
    tech = kit.add_user("technician")
    kit.ticket()
    with PageClient(site) as page:
        page.login(tech.email)
        text = page.get("/time/week").text
        empty = page.get("/time/week", params={"week": "2020-01-01"})
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    assert f'data-week="{week_start(today).isoformat()}"' in text
    assert 'id="this-week"' not in text  # already on it
    assert 'id="empty-week"' in text and 'id="submit-week"' not in text
    # The quick-entry day defaults to today there.
    assert f'<option value="{today.isoformat()}" selected>' in text
    assert empty.status_code == 200 and 'data-week="2019-12-30"' in empty.text
    # The list links to the week and back.
    assert 'href="/time/week"' in text and 'id="all-entries"' in text


def test_bad_week_is_a_clear_422(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    with PageClient(site) as page:
        page.login(tech.email)
        for bad, words in (
            ("2026-02-30", "Week must be a date like"),
            ("next", "Week must be a date like"),
            ("0001-01-01", "Week must be between"),
            ("9999-12-31", "Week must be between"),
        ):
            r = page.get("/time/week", params={"week": bad})
            assert r.status_code == 422, (bad, r.status_code)
            assert words in r.text, bad
        r = page.post("/time/week/submit", {"week": "soon"})
        assert r.status_code == 422 and "Week must be a date like" in r.text


def test_quick_entry_adds_time_to_a_day_and_refuses_bad_input(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    ticket = kit.ticket(title="Server room AC")
    closed = kit.ticket(title="Old ticket")
    with kit.db.session() as s:
        from regentra.models import Ticket

        s.execute(update(Ticket).where(Ticket.id == closed.id).values(status="closed"))
        s.commit()
    foreign = make_org().ticket(title="Someone else's")
    monday = monday_of_last_week(kit)
    thursday = monday + timedelta(days=3)
    week = monday.isoformat()
    with PageClient(site) as page:
        page.login(tech.email)
        text = page.get("/time/week", params={"week": week, "ticket": str(ticket.id)}).text
        # The form: every field labelled, the row's ticket preselected, closed tickets absent.
        for field in ("qe-ticket", "qe-day", "qe-duration", "qe-description", "qe-billable"):
            assert f'<label for="{field}">' in text and f'id="{field}"' in text
        assert f'<option value="{ticket.id}" selected>' in text
        assert str(closed.id) not in text
        good = {
            "week": week,
            "ticket_id": str(ticket.id),
            "work_date": thursday.isoformat(),
            "duration": "1:15",
            "description": "Replaced the compressor fan",
            "billable": "on",
        }
        r = page.post("/time/week", good)
        assert r.status_code == 303, form_error(r.text)
        assert r.headers["location"] == f"/time/week?week={week}"
        after = page.follow(r).text
        assert flash(after) == (
            "success",
            f"Logged 1:15 on {thursday.strftime('%a %-d %b')} as a draft.",
        )
        assert ">1:15<" in cell(after, ticket.id, thursday)
        with kit.db.session() as s:
            made = s.scalars(select(TimeEntry).where(TimeEntry.technician_id == tech.id)).all()
        assert [(e.minutes, e.work_date, e.status, e.billable) for e in made] == [
            (75, thursday, "draft", True)
        ]
        bad_cases = [
            ({"duration": "lots"}, 422, "Duration 'lots' is not understood"),
            ({"duration": ""}, 422, "Duration is required"),
            ({"duration": "25:00"}, 422, "between 1 minute and 24 hours"),
            ({"ticket_id": ""}, 422, "Choose a ticket."),
            ({"ticket_id": "not-an-id"}, 422, "Choose a ticket."),
            ({"ticket_id": str(foreign.id)}, 422, "does not match any ticket"),
            ({"ticket_id": str(closed.id)}, 409, "ticket is closed"),
            ({"work_date": "2999-01-01"}, 422, "future"),
            ({"work_date": "yesterday"}, 422, "Day must be a date like"),
            ({"description": "x" * 4001}, 422, "4000"),
        ]
        for change, status, words in bad_cases:
            r = page.post("/time/week", {**good, **change})
            assert r.status_code == status, (change, r.status_code, form_error(r.text))
            assert words in html.unescape(form_error(r.text) or ""), (change, r.text[-3000:])
            # The typed values are kept for the next try.
            sent = {**good, **change}
            assert f'value="{sent["description"]}"' in r.text
            assert f'value="{sent["duration"]}"' in r.text
        # A closed ticket cannot take time, and the re-rendered week stays that week's.
        assert f'data-week="{week}"' in r.text
    with kit.db.session() as s:
        count = len(s.scalars(select(TimeEntry).where(TimeEntry.technician_id == tech.id)).all())
    assert count == 1  # nothing half-written


def test_submit_week_submits_only_that_weeks_drafts(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    other = kit.add_user("technician")
    ticket = kit.ticket()
    monday = monday_of_last_week(kit)
    drafts = [kit.entry(tech, ticket=ticket, work_date=monday + timedelta(days=n)) for n in (0, 6)]
    rejected = kit.entry(tech, ticket=ticket, status="rejected", work_date=monday)
    before = kit.entry(tech, ticket=ticket, work_date=monday - timedelta(days=1))
    theirs = kit.entry(other, ticket=ticket, work_date=monday)
    with PageClient(site) as page:
        page.login(tech.email)
        page.get("/time/week", params={"week": monday.isoformat()})
        r = page.post("/time/week/submit", {"week": (monday + timedelta(days=4)).isoformat()})
        assert r.status_code == 303
        assert r.headers["location"] == f"/time/week?week={monday.isoformat()}"
        after = page.follow(r).text
        kind, message = flash(after) or ("", "")
        assert kind == "success"
        assert (
            message
            == f"Submitted 2 entries of the week of {monday.strftime('%-d %b')} for approval."
        )
        assert "0 drafts this week" in after and 'id="submit-week"' not in after
        # Again: nothing left to submit, said plainly.
        r = page.post("/time/week/submit", {"week": monday.isoformat()})
        assert r.status_code == 409 and "no drafts to submit" in (form_error(r.text) or "")
    assert [status_of(kit, e.id) for e in drafts] == ["submitted", "submitted"]
    assert status_of(kit, rejected.id) == "rejected"  # rejected ones are fixed, then submitted
    assert status_of(kit, before.id) == "draft"
    assert status_of(kit, theirs.id) == "draft"
    with kit.db.session() as s:
        audited = s.scalars(
            select(AuditEvent.subject_id).where(
                AuditEvent.org_id == kit.org.id, AuditEvent.action == "time_entry.submitted"
            )
        ).all()
    assert set(audited) >= {str(e.id) for e in drafts}


def test_recall_from_the_week_and_the_list(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    other = kit.add_user("technician")
    ticket = kit.ticket()
    monday = monday_of_last_week(kit)
    first = kit.entry(tech, ticket=ticket, status="submitted", work_date=monday)
    second = kit.entry(tech, ticket=ticket, status="submitted", work_date=monday)
    approved = kit.entry(tech, ticket=ticket, status="approved", work_date=monday)
    theirs = kit.entry(other, ticket=ticket, status="submitted", work_date=monday)
    week = monday.isoformat()
    with PageClient(site) as page:
        page.login(tech.email)
        page.get("/time/week", params={"week": week})
        r = page.post(f"/time/{first.id}/recall", {"week": week})
        assert r.status_code == 303 and r.headers["location"] == f"/time/week?week={week}"
        after = page.follow(r).text
        assert "it is a draft again" in (flash(after) or ("", ""))[1]
        assert entry_statuses(after)[str(first.id)] == "draft"
        assert f'href="/time/{first.id}/edit"' in after
        # From the list: a Recall button on submitted entries only, and back to the list.
        listing = page.get("/time").text
        assert f'action="/time/{second.id}/recall"' in listing
        assert f'action="/time/{approved.id}/recall"' not in listing
        r = page.post(f"/time/{second.id}/recall")
        assert r.status_code == 303 and r.headers["location"] == "/time"
        # Approved already: a clear 409 on the page it came from, nothing changed.
        r = page.post(f"/time/{approved.id}/recall", {"week": week})
        assert r.status_code == 409
        assert "only submitted entries can be recalled" in (form_error(r.text) or "")
        assert f'data-week="{week}"' in r.text
        r = page.post(f"/time/{approved.id}/recall")
        assert r.status_code == 409 and 'id="my-entries"' in r.text
        # Another technician's entry is not found, and stays submitted.
        assert page.post(f"/time/{theirs.id}/recall", {"week": week}).status_code == 404
    assert [status_of(kit, e.id) for e in (first, second, approved, theirs)] == [
        "draft",
        "draft",
        "approved",
        "submitted",
    ]
    with kit.db.session() as s:
        recalled = s.scalars(
            select(AuditEvent).where(
                AuditEvent.org_id == kit.org.id, AuditEvent.action == "time_entry.recalled"
            )
        ).all()
    assert {e.subject_id for e in recalled} == {str(first.id), str(second.id)}
    assert all(e.actor_user_id == tech.id for e in recalled)


def test_time_list_shows_invoiced_and_paid_and_durations_as_entered(
    make_org: Any, site: Any
) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    invoiced = kit.entry(tech, minutes=75, status="approved")
    paid = kit.entry(tech, minutes=45, status="approved")
    bill(kit, invoiced, paid=False)
    bill(kit, paid, paid=True)
    with PageClient(site) as page:
        page.login(tech.email)
        listing = page.get("/time").text
        assert entry_statuses(listing) == {str(invoiced.id): "invoiced", str(paid.id): "paid"}
        assert ">1:15<" in listing and ">0:45<" in listing
        assert 'data-action="recall"' not in listing
        # The edit form shows the duration as it would be typed, not in minutes.
        draft = kit.entry(tech, minutes=75)
        form = page.get(f"/time/{draft.id}/edit").text
        assert 'name="duration"' in form and 'value="1:15"' in form
