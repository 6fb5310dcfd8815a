"""Approvals grouped by technician and week with totals; the approver's own entries shown
but not actionable; a partial bulk approval reported as partial, not as an error."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from regentra.invoices.transitions import org_today
from regentra.models import Org, TimeEntry
from regentra.time_entries.week import week_start
from web.pages import PageClient, flash, form_error, misaligned_headers


def groups_in(page_html: str) -> list[tuple[str, str, int, str]]:
    """(technician id, week, minutes, own) per group, in page order."""
    return [
        (tech, week, int(minutes), own)
        for tech, week, minutes, own in re.findall(
            r'class="approval-group" id="[^"]+" data-technician-id="([^"]+)" '
            r'data-week="([^"]+)" data-minutes="(\d+)" data-own="(\w+)"',
            page_html,
        )
    ]


def group_html(page_html: str, technician_id: Any, week: Any) -> str:
    start = page_html.index(f'id="week-{technician_id}-{week.isoformat()}"')
    return page_html[start : page_html.index("</section>", start)]


def status_of(kit: Any, entry: TimeEntry) -> str:
    with kit.db.session() as s:
        found = s.get(TimeEntry, entry.id)
        assert found is not None
        return found.status


def test_pending_time_grouped_by_technician_and_week_with_totals(make_org: Any, site: Any) -> None:
    kit = make_org()
    alice = kit.add_user("technician", email="alice@grouped.example.com")
    bob = kit.add_user("technician", email="bob@grouped.example.com")
    approver = kit.add_user("approver")
    client = kit.client(hourly_rate=12000)
    ticket = kit.ticket(client)
    this_monday = week_start(org_today(kit.org)) - timedelta(days=7)
    last_monday = this_monday - timedelta(days=7)
    a1 = kit.entry(alice, ticket=ticket, minutes=75, status="submitted", work_date=this_monday)
    a2 = kit.entry(
        alice,
        ticket=ticket,
        minutes=45,
        status="submitted",
        work_date=this_monday + timedelta(days=6),
    )
    a_old = kit.entry(alice, ticket=ticket, minutes=30, status="submitted", work_date=last_monday)
    b1 = kit.entry(bob, ticket=ticket, minutes=60, status="submitted", work_date=this_monday)
    mine = kit.entry(approver, ticket=ticket, minutes=90, status="submitted", work_date=this_monday)
    with PageClient(site) as page:
        page.login(approver.email)
        text = page.get("/approvals").text
    names = {alice.id: alice.name, bob.id: bob.name, approver.id: approver.name}
    expected = sorted(
        [
            (str(alice.id), last_monday.isoformat(), 30, "false"),
            (str(alice.id), this_monday.isoformat(), 120, "false"),
            (str(bob.id), this_monday.isoformat(), 60, "false"),
            (str(approver.id), this_monday.isoformat(), 90, "true"),
        ],
        key=lambda g: (names[next(k for k in names if str(k) == g[0])].casefold(), g[0], g[1]),
    )
    assert groups_in(text) == expected
    assert misaligned_headers(text) == []
    # A group: its heading, its entries by date, its totals (hours and amounts).
    alice_week = group_html(text, alice.id, this_monday)
    assert f"{alice.name} · week of {this_monday.strftime('%-d %b %Y')}" in alice_week
    assert alice_week.index(str(a1.id)) < alice_week.index(str(a2.id))
    assert str(a_old.id) not in alice_week and str(b1.id) not in alice_week
    assert "2 entries · 2:00 · $240.00" in alice_week
    assert 'data-minutes="120"><strong>2:00</strong>' in alice_week
    assert 'data-total="USD">$240.00<' in alice_week
    assert ">1:15<" in alice_week and ">0:45<" in alice_week
    # "Approve week" carries that group's entries, and only them.
    week_form = alice_week.split('data-action="approve-week"')[0].rsplit("<form", 1)[1]
    assert set(re.findall(r'name="ids" value="([^"]+)"', week_form)) == {str(a1.id), str(a2.id)}
    # The approver's own week: shown, marked, and nothing to press.
    own = group_html(text, approver.id, this_monday)
    assert str(mine.id) in own and "your own time" in own and "another approver decides" in own
    for control in ('data-action="approve"', 'data-action="reject"', "approve-week", "checkbox"):
        assert control not in own, control
    assert "data-not-actionable>Your own entry<" in own
    assert f'id="select-{mine.id}"' not in text
    assert f'id="select-{a1.id}"' in text


def test_approve_week_and_partial_bulk_results(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    ticket = kit.ticket()
    monday = week_start(org_today(kit.org)) - timedelta(days=7)
    week = [
        kit.entry(tech, ticket=ticket, status="submitted", work_date=monday + timedelta(days=n))
        for n in range(3)
    ]
    own = [kit.entry(approver, ticket=ticket, status="submitted", work_date=monday) for _ in "ab"]
    decided = kit.entry(tech, ticket=ticket, status="approved", work_date=monday)
    with PageClient(site) as page:
        page.login(approver.email)
        page.get("/approvals")
        # Approve week: all of the group at once.
        r = page.post("/approvals/bulk-approve", {"ids": [str(e.id) for e in week[:2]]})
        assert r.status_code == 303
        assert flash(page.follow(r).text) == ("success", "Approved 2 entries.")
        # Some can, some cannot: a partial result, said as such, with the reasons.
        ids = [str(week[2].id), str(own[0].id), str(decided.id)]
        r = page.post("/approvals/bulk-approve", {"ids": ids})
        assert r.status_code == 303
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "warning"
        assert message.startswith("Approved 1 of 3; 2 could not be: ")
        assert "cannot approve your own time" in message
        assert "only submitted entries can be approved" in message
        # None can: that is an error.
        r = page.post("/approvals/bulk-approve", {"ids": [str(e.id) for e in own]})
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error"
        assert message.startswith("None of the 2 entries could be approved: ")
        r = page.post("/approvals/bulk-approve", {"ids": ["not-an-id"]})
        assert r.status_code == 422 and "Choose a time entry" in (form_error(r.text) or "")
    assert [status_of(kit, e) for e in week] == ["approved"] * 3
    assert [status_of(kit, e) for e in own] == ["submitted"] * 2


def test_own_entries_are_actionable_when_the_org_allows_self_approval(
    make_org: Any, site: Any
) -> None:
    kit = make_org()
    approver = kit.add_user("approver")
    mine = kit.entry(approver, status="submitted")
    with PageClient(site) as page:
        page.login(approver.email)
        text = page.get("/approvals").text
        assert 'id="approve-selected"' not in text  # nothing this approver may select
        with kit.db.session() as s:
            s.execute(update(Org).where(Org.id == kit.org.id).values(allow_self_approval=True))
            s.commit()
        text = page.get("/approvals").text
        assert f'id="select-{mine.id}"' in text and 'id="approve-selected"' in text
        assert "your own time" in text and 'data-action="approve-week"' in text
        r = page.post(f"/approvals/{mine.id}/approve")
        assert r.status_code == 303
    assert status_of(kit, mine) == "approved"
