"""Form errors in people's words, knowing their field: the `form_error` macro names the input
(data-field) so app.js can mark it aria-invalid, link the message and focus it; and in
Chromium, the focus really lands on the first invalid field."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pydantic import ValidationError

from regentra.clients.schemas import ClientCreate
from regentra.errors import Invalid
from regentra.web.forms import FormMessage, failure, parse_amount, parse_date, parse_id
from web.pages import PageClient, form_error
from web.test_browser import sign_in

_ERROR_TAG = re.compile(r'<div class="form-error"[^>]*id="form-error">')


def _field(html: str) -> str | None:
    tag = _ERROR_TAG.search(html)
    assert tag, "the page shows a form error"
    found = re.search(r'data-field="([^"]+)"', tag.group(0))
    return found.group(1) if found else None


def test_failure_says_fields_as_people_do() -> None:
    message, status = failure(Invalid("work_date cannot be in the future"))
    assert (message, status) == ("Work date cannot be in the future.", 422)
    assert isinstance(message, FormMessage) and message.field == "work_date"
    message, _ = failure(Invalid("period_start must not be after period_end"))
    assert message == "Period start must not be after period end."
    assert message.field == "period_start"
    message, _ = failure(Invalid("date_from must not be after date_to"))
    assert message == "From date must not be after to date."
    try:
        ClientCreate(name="", billing_email="a@b.example", hourly_rate=-1)
    except ValidationError as exc:
        message, status = failure(exc)
    assert status == 422
    assert message == "Name is required. Hourly rate must not be negative."
    assert message.field == "name" and "name:" not in message and "_" not in message
    for call, field in (
        (lambda: parse_date("soon", "Work date"), "work_date"),
        (lambda: parse_amount("abc", "USD", "Hourly rate"), "hourly_rate"),
        (lambda: parse_id("", "client"), "client_id"),
        (lambda: parse_amount("1", "USD", "Price", field="unit_amount"), None),
    ):
        try:
            call()
        except Invalid as exc:
            assert failure(exc)[0].field == field
        else:
            assert field is None  # "1" is a price: nothing to refuse


def test_pages_name_the_invalid_field(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    ticket = kit.ticket()
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get(f"/tickets/{ticket.id}")
        r = page.post(
            f"/tickets/{ticket.id}/time",
            {"work_date": tomorrow, "duration": "30", "description": "x", "billable": "on"},
        )
        assert r.status_code == 422
        assert form_error(r.text) == "Work date cannot be in the future."
        assert _field(r.text) == "work_date"
        r = page.post(
            f"/tickets/{ticket.id}/time",
            {"work_date": date.today().isoformat(), "duration": "abc", "description": "x"},
        )
        assert r.status_code == 422 and _field(r.text) == "duration"
        page.get("/clients")
        r = page.post(
            "/clients",
            {
                "name": "Acme",
                "billing_email": "a@acme.example",
                "currency": "USD",
                "hourly_rate": "x",
            },
        )
        assert r.status_code == 422 and _field(r.text) == "hourly_rate"
        r = page.post(
            "/clients", {"name": "", "billing_email": "a@acme.example", "currency": "USD"}
        )
        assert r.status_code == 422 and _field(r.text) == "name"
        assert form_error(r.text) == "Name is required."
        page.get("/invoices/new")
        for period, field in (
            ({"period_start": "soon", "period_end": ""}, "period_start"),
            ({"period_start": "2024-02-01", "period_end": "2024-01-01"}, "period_start"),
        ):
            r = page.post("/invoices", {"client_id": str(ticket.client_id), **period})
            assert r.status_code == 422 and _field(r.text) == field, form_error(r.text)
            assert "_" not in (form_error(r.text) or "_")
    with PageClient(site) as page:
        page.login(tech.email)
        page.get("/tickets")
        r = page.post("/tickets", {"client_id": "", "title": "Printer"})
        assert r.status_code == 422 and _field(r.text) == "client_id"
        r = page.get("/tickets?client=nobody")  # the list's filter form
        assert r.status_code == 422 and _field(r.text) == "client"
        r = page.get("/time?date_from=2024-02-02&date_to=2024-01-01")
        assert r.status_code == 422 and _field(r.text) == "date_from"


@pytest.mark.browser
def test_focus_moves_to_the_first_invalid_field(
    live_server: Any, make_org: Any, page: Page
) -> None:
    kit = make_org()
    ticket = kit.ticket(title="Printer on fire")
    sign_in(page, live_server.url, kit.admin.email)
    page.goto(f"{live_server.url}/tickets/{ticket.id}")
    page.get_by_label("Work date").fill((date.today() + timedelta(days=3)).isoformat())
    page.get_by_label("Duration").fill("45")
    page.locator("#log-time").click()
    expect(page.locator("#form-error")).to_have_text("Work date cannot be in the future.")
    work_date = page.locator("#work-date")
    expect(work_date).to_be_focused()
    expect(work_date).to_have_attribute("aria-invalid", "true")
    expect(work_date).to_have_attribute("aria-describedby", re.compile(r"\bform-error\b"))
    expect(page.locator("#duration")).not_to_have_attribute("aria-invalid", "true")

    # A field further down the form: the duration keeps its own help linked too.
    page.get_by_label("Work date").fill(date.today().isoformat())
    page.get_by_label("Duration").fill("ninety")
    page.locator("#log-time").click()
    duration = page.locator("#duration")
    expect(duration).to_be_focused()
    expect(duration).to_have_attribute("aria-invalid", "true")
    expect(duration).to_have_attribute("aria-describedby", "form-error duration-help")
    expect(page.locator("#work-date")).not_to_have_attribute("aria-invalid", "true")

    # A list's filter that cannot be read: its input in the filter form, not the header's.
    page.goto(f"{live_server.url}/invoices?date_from=someday")
    expect(page.locator("#form-error")).to_contain_text("Created from must be a date")
    date_from = page.locator("#filter-from")
    expect(date_from).to_be_focused()
    expect(date_from).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#search-q")).not_to_have_attribute("aria-invalid", "true")
