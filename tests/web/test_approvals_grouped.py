"""Approvals grouped by technician and week with totals; the approver's own entries shown
but not actionable; a partial bulk approval reported as partial, not as an error."""

from __future__ import annotations

import re
import uuid
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
        text = page.get("/approvals?sort=technician").text
    names = {alice.id: alice.name, bob.id: bob.name, approver.id: approver.name}
    # By technician: technicians by name, each one's newest week first.
    expected = sorted(
        sorted(
            [
                (str(alice.id), last_monday.isoformat(), 30, "false"),
                (str(alice.id), this_monday.isoformat(), 120, "false"),
                (str(bob.id), this_monday.isoformat(), 60, "false"),
                (str(approver.id), this_monday.isoformat(), 90, "true"),
            ],
            key=lambda g: g[1],
            reverse=True,
        ),
        key=lambda g: (names[next(k for k in names if str(k) == g[0])].casefold(), g[0]),
    )
    assert groups_in(text) == expected
    assert misaligned_headers(text) == []
    # A group: its heading, its entries by date (newest first), its totals (hours, amounts).
    alice_week = group_html(text, alice.id, this_monday)
    assert f"{alice.name} · week of {this_monday.strftime('%-d %b %Y')}" in alice_week
    assert alice_week.index(str(a2.id)) < alice_week.index(str(a1.id))
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


_ENTRY = re.compile(r'data-entry-id="([^"]+)"')


def pending_ids(page_html: str) -> list[str]:
    """The entries waiting for approval, in page order (not the recently approved)."""
    return _ENTRY.findall(page_html.split("<h2>Recently approved</h2>")[0])


def recent_ids(page_html: str) -> list[str]:
    return _ENTRY.findall(page_html.split("<h2>Recently approved</h2>")[1])


def test_filters_and_orders_keep_the_grouping(make_org: Any, site: Any) -> None:
    kit = make_org()
    alice = kit.add_user("technician", email=f"aaaaaa-{uuid.uuid4().hex[:6]}@f.example.com")
    zed = kit.add_user("technician", email=f"zzzzzz-{uuid.uuid4().hex[:6]}@f.example.com")
    approver = kit.add_user("approver")
    acme = kit.client(name="Acme", hourly_rate=6000)
    zenith = kit.client(name="Zenith", hourly_rate=12000)
    at_acme, at_zenith = kit.ticket(acme), kit.ticket(zenith)
    w0 = week_start(org_today(kit.org)) - timedelta(days=14)  # the newest week
    w1, w2 = w0 - timedelta(days=7), w0 - timedelta(days=14)

    def submitted(who: Any, ticket: Any, day: Any, minutes: int = 60) -> str:
        made = kit.entry(who, ticket=ticket, minutes=minutes, status="submitted", work_date=day)
        return str(made.id)

    e1 = submitted(alice, at_acme, w2)
    e2 = submitted(alice, at_zenith, w0 + timedelta(days=2))
    e3 = submitted(zed, at_acme, w1 + timedelta(days=1), minutes=30)
    e4 = submitted(zed, at_zenith, w0)
    e5 = submitted(alice, at_acme, w0 + timedelta(days=1))  # alice's newest week: two clients
    done = str(kit.entry(alice, ticket=at_acme, status="approved", work_date=w1).id)

    with PageClient(site) as page:
        page.login(approver.email)
        # Newest first by default: newest week first (technicians by name within a week),
        # each group's entries newest first.
        html = page.get("/approvals").text
        assert [(g[0], g[1]) for g in groups_in(html)] == [
            (str(alice.id), w0.isoformat()),
            (str(zed.id), w0.isoformat()),
            (str(zed.id), w1.isoformat()),
            (str(alice.id), w2.isoformat()),
        ]
        assert pending_ids(html) == [e2, e5, e4, e3, e1]
        assert 'aria-sort="descending">Date<' in html and 'aria-sort="ascending"' not in html
        assert '<option value="newest" selected>Newest first</option>' in html
        assert 'id="pending-totals" data-count="5" data-minutes="270"' in html
        assert recent_ids(html) == [done]
        assert misaligned_headers(html) == []

        # Oldest first: groups and entries the other way round.
        html = page.get("/approvals?sort=oldest").text
        assert pending_ids(html) == [e1, e3, e5, e2, e4]  # a week: technicians by name
        assert 'aria-sort="ascending">Date<' in html
        assert '<option value="oldest" selected>Oldest first</option>' in html
        # By client: groups by their first client's name, then newest week; inside a group
        # by client (Acme's e5 before Zenith's e2 in alice's newest week).
        html = page.get("/approvals?sort=client").text
        assert pending_ids(html) == [e5, e2, e3, e1, e4]
        assert 'aria-sort="ascending">Ticket and client<' in html
        # By technician: technicians by name, each one's newest week first.
        html = page.get("/approvals?sort=technician").text
        assert pending_ids(html) == [e2, e5, e1, e4, e3]

        # Each filter, shown selected in the form, applied to both sections.
        html = page.get(f"/approvals?client={acme.id}").text
        assert pending_ids(html) == [e5, e3, e1] and recent_ids(html) == [done]
        assert f'<option value="{acme.id}" selected>Acme</option>' in html
        assert "3 entries waiting that match the filters · 2:30 · <span" in html
        assert 'data-total-currency="USD">$150.00<' in html  # 2.5 h at 60.00
        html = page.get(f"/approvals?client={zenith.id}").text
        assert pending_ids(html) == [e2, e4] and recent_ids(html) == []
        html = page.get(f"/approvals?technician={zed.id}").text
        assert pending_ids(html) == [e4, e3] and recent_ids(html) == []
        assert f'<option value="{zed.id}" selected>{zed.name}</option>' in html
        week = {"date_from": w1.isoformat(), "date_to": (w1 + timedelta(days=6)).isoformat()}
        html = page.get("/approvals", params=week).text
        assert pending_ids(html) == [e3] and recent_ids(html) == [done]
        assert f'name="date_from" type="date" value="{w1.isoformat()}"' in html
        # Together, and in another order: the form keeps both.
        both = {"client": str(acme.id), "technician": str(alice.id), "sort": "oldest"}
        html = page.get("/approvals", params=both).text
        assert pending_ids(html) == [e1, e5]
        assert '<option value="oldest" selected>' in html and 'id="reset-filters"' in html
        html = page.get("/approvals", params={"date_from": (w0 + timedelta(days=3)).isoformat()})
        assert html.status_code == 200 and pending_ids(html.text) == []
        assert "Nothing waiting for approval matches the filters." in html.text


def test_bad_approval_filters_are_a_422_in_words(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    kit.entry(tech, status="submitted")
    stranger = make_org()  # another org's client and technician are not in the lists
    elsewhere, outsider = stranger.client(), stranger.add_user("technician")
    today = org_today(kit.org)
    backwards = {"date_from": today.isoformat(), "date_to": str(today - timedelta(days=1))}
    not_a_date = "must be a date like 2024-05-31."
    with PageClient(site) as page:
        page.login(approver.email)
        assert len(pending_ids(page.get("/approvals").text)) == 1
        cases = [
            ({"client": "nope"}, "Choose a client from the list.", "client"),
            ({"client": str(elsewhere.id)}, "Choose a client from the list.", "client"),
            ({"client": str(uuid.uuid4())}, "Choose a client from the list.", "client"),
            ({"technician": str(outsider.id)}, "Choose a technician from the list.", "technician"),
            ({"technician": "bob"}, "Choose a technician from the list.", "technician"),
            ({"date_from": "yesterday"}, f"Worked from {not_a_date}", "date_from"),
            ({"date_to": "2024-02-30"}, f"Worked to {not_a_date}", "date_to"),
            (backwards, "The From date must not be after the To date.", "date_from"),
        ]
        for params, words, field in cases:
            r = page.get("/approvals", params=params)
            assert r.status_code == 422, (params, r.status_code)
            assert form_error(r.text) == words, params
            assert f'data-field="{field}"' in r.text
            assert pending_ids(r.text) == [] and recent_ids(r.text) == []
            assert "Fix the filter above" in r.text
        # An order it does not know: the default order, with a notice (not an error).
        r = page.get("/approvals?sort=amount&dir=up")
        assert r.status_code == 200 and "cannot be sorted by" in r.text
        assert len(pending_ids(r.text)) == 1


def test_bulk_approve_with_filters_approves_what_is_shown(make_org: Any, site: Any) -> None:
    kit = make_org()
    alice, bob = kit.add_user("technician"), kit.add_user("technician")
    approver = kit.add_user("approver")
    ticket = kit.ticket()
    alices = [kit.entry(alice, ticket=ticket, status="submitted") for _ in range(2)]
    bobs = [kit.entry(bob, ticket=ticket, status="submitted") for _ in range(2)]
    with PageClient(site) as page:
        page.login(approver.email)
        html = page.get(f"/approvals?technician={bob.id}&sort=oldest").text
        action = re.search(r'<form method="post" action="([^"]+)" id="bulk-approve"', html)
        assert action
        url = action.group(1).replace("&amp;", "&")
        assert url == f"/approvals/bulk-approve?technician={bob.id}&sort=oldest&dir=asc"
        shown = re.findall(r'name="ids" value="([^"]+)" form="bulk-approve"', html)
        assert sorted(shown) == sorted(str(e.id) for e in bobs)
        r = page.post(url, {"ids": shown})
        assert r.status_code == 303
        assert r.headers["location"] == f"/approvals?technician={bob.id}&sort=oldest&dir=asc"
        back = page.follow(r).text
        assert flash(back) == ("success", "Approved 2 entries.")
        assert pending_ids(back) == [] and sorted(recent_ids(back)) == sorted(shown)
        assert f'<option value="{bob.id}" selected>' in back
        # An error re-renders the same filtered view.
        r = page.post(url, {})
        assert r.status_code == 422 and "Select at least one entry" in (form_error(r.text) or "")
        assert f'<option value="{bob.id}" selected>' in r.text
    assert [status_of(kit, e) for e in bobs] == ["approved"] * 2
    assert [status_of(kit, e) for e in alices] == ["submitted"] * 2
