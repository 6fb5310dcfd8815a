"""Input at the edges, API and pages (in-process, SQLite and PostgreSQL): NUL bytes and bidi
controls in any text → 422 (PostgreSQL cannot store a NUL: that was a 500); booleans are not
numbers; audit-log bounds without a zone are in the org's time zone, and out-of-range ones are
422, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from web.pages import PageClient

from regentra.models import Client, TimeEntry

UNSAFE = ["a\x00b", "\u202eevil.exe", "x\u2066y\u2069", "\u202a", "\u202d"]


def _clients(kit: Any) -> int:
    with kit.db.session() as s:
        return int(s.scalar(select(func.count()).where(Client.org_id == kit.org.id)) or 0)


@pytest.mark.parametrize("value", UNSAFE)
def test_unsafe_text_in_json_is_refused(make_org: Any, value: str) -> None:
    kit = make_org()
    with kit.api() as api:
        r = api.post("/clients", json={"name": value, "billing_email": "ap@x.example"})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid" and error["message"].startswith("name: contains a NUL")
        assert error["fields"] == [{"field": "name", "message": error["message"][6:]}]
        # Keys and nested strings too, and query parameters.
        r = api.post("/clients", json={"name": "ok", "billing_email": "a@x.example", value: 1})
        assert r.status_code == 422, r.text
        r = api.get("/audit-log", params={"action": value})
        assert r.status_code == 422 and "action: contains" in r.json()["error"]["message"]
    assert _clients(kit) == 0
    # Text that only looks odd is fine: a right-to-left name and the LRM/RLM marks.
    with kit.api() as api:
        r = api.post(
            "/clients", json={"name": "שלום \u200fאבג\u200e", "billing_email": "ap@x.example"}
        )
        assert r.status_code == 201, r.text


def test_unsafe_text_in_a_page_form_is_refused(make_org: Any, site: Any) -> None:
    kit = make_org()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get("/clients")
        for value in UNSAFE:
            r = page.post("/clients", {"name": value, "billing_email": "ap@x.example"})
            assert r.status_code == 422, (value, r.status_code)
            assert "contains a NUL byte or a bidirectional control character" in r.text
    assert _clients(kit) == 0


def test_booleans_are_not_numbers(make_org: Any) -> None:
    kit = make_org()
    client = kit.client()
    ticket = kit.ticket(client)
    with kit.api() as api:
        r = api.post(
            "/clients",
            json={"name": "Initech", "billing_email": "ap@x.example", "hourly_rate": True},
        )
        assert r.status_code == 422 and "hourly_rate" in r.json()["error"]["message"], r.text
        r = api.post(
            "/time-entries",
            json={"ticket_id": str(ticket.id), "work_date": "2026-01-05", "minutes": True},
        )
        assert r.status_code == 422 and "minutes" in r.json()["error"]["message"], r.text
        r = api.patch("/org", json={"default_hourly_rate": False})
        assert r.status_code == 422, r.text
    with kit.db.session() as s:
        assert s.scalar(select(func.count()).where(TimeEntry.org_id == kit.org.id)) == 0


def test_audit_bounds_without_a_zone_are_in_the_orgs_time_zone(make_org: Any) -> None:
    kit = make_org()
    with kit.api() as api:
        assert api.patch("/org", json={"timezone": "Pacific/Kiritimati"}).status_code == 200
    before = datetime.now(UTC)
    kit.client(name="Audited")
    # Two hours after the event as UTC wall time; in Kiritimati (UTC+14) twelve hours before it.
    naive = (before + timedelta(hours=2)).replace(tzinfo=None).isoformat(timespec="seconds")
    with kit.api() as api:
        params = {"action": "client.created"}
        r = api.get("/audit-log", params={**params, "since": naive})
        assert r.status_code == 200 and len(r.json()["items"]) == 1, r.text
        r = api.get("/audit-log", params={**params, "since": naive + "Z"})
        assert r.status_code == 200 and r.json()["items"] == [], r.text
        r = api.get("/audit-log", params={**params, "until": naive})
        assert r.status_code == 200 and r.json()["items"] == [], r.text


@pytest.mark.parametrize(
    "bound",
    [
        ("since", "0001-01-01T00:00:00"),
        ("until", "0001-01-01T00:30:00+01:00"),
        ("until", "9999-12-31T23:59:59"),
        ("since", "9999-12-31T23:00:00-05:00"),
        ("since", "1000-01-01T00:00:00Z"),
    ],
)
def test_out_of_range_audit_bounds_are_422_in_the_api(
    make_org: Any, bound: tuple[str, str]
) -> None:
    kit = make_org()
    with kit.api() as api:
        assert api.patch("/org", json={"timezone": "Pacific/Kiritimati"}).status_code == 200
        name, value = bound
        r = api.get("/audit-log", params={name: value})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"] == (
            f"{name}: use a date between the years 1900 and 9998"
        )


def test_out_of_range_audit_dates_are_422_on_the_page(make_org: Any, site: Any) -> None:
    kit = make_org()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        for query, label in (
            ("date_to=9999-12-31", "To"),
            ("date_from=0001-01-01", "From"),
            ("date_from=1899-12-31&date_to=2026-01-01", "From"),
        ):
            r = page.get(f"/audit?{query}")
            assert r.status_code == 422, (query, r.status_code)
            assert f"{label} must be a date in the years 1900 to 9998." in r.text  # in words
        assert page.get("/audit?date_from=1900-01-01&date_to=9998-12-31").status_code == 200
