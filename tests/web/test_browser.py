"""A technician logs time and submits it; an approver approves it: in Debian's Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from web.pages import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.locator("#sign-in").click()
    expect(page.locator("#account-name")).to_be_visible()


def sign_out(page: Page) -> None:
    page.locator("#sign-out").click()
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("You have signed out.")


def test_log_submit_and_approve_time(live_server: Any, make_org: Any, page: Page) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    ticket = kit.ticket(title="Printer on fire")
    base = live_server.url

    # The technician opens the ticket from the list and logs 90 minutes.
    sign_in(page, base, tech.email)
    expect(page.locator('nav a[href="/approvals"]')).to_have_count(0)
    page.locator('nav a[href="/tickets"]').click()
    page.locator(f'tr[data-ticket-id="{ticket.id}"] a.ticket-link').click()
    expect(page.locator("h1")).to_have_text("Printer on fire")
    expect(page.get_by_label("Work date")).not_to_have_value("")
    page.get_by_label("Duration").fill("90")
    page.get_by_label("Description").fill("Replaced the fuser unit")
    page.locator("#log-time").click()
    expect(page.locator("#flash")).to_contain_text("Logged 1:30")

    # My time shows the draft; the technician submits it.
    page.locator('nav a[href="/time/week"]').click()
    page.locator("#all-entries").click()
    row = page.locator("#my-entries tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "draft")
    expect(row.locator(".badge")).to_have_text("draft")
    expect(row).to_contain_text("1:30")
    expect(row).to_contain_text("Replaced the fuser unit")
    entry_id = row.get_attribute("data-entry-id")
    row.locator('[data-action="submit"]').click()
    expect(page.locator("#flash")).to_contain_text("submitted for approval")
    row = page.locator(f'tr[data-entry-id="{entry_id}"]')
    expect(row).to_have_attribute("data-status", "submitted")
    sign_out(page)

    # The approver approves it.
    sign_in(page, base, approver.email)
    page.locator('nav a[href="/approvals"]').click()
    pending = page.locator(f'#pending-entries tr[data-entry-id="{entry_id}"]')
    expect(pending).to_contain_text("1:30")
    pending.locator('[data-action="approve"]').click()
    expect(page.locator("#flash")).to_have_text("Entry approved.")
    expect(page.locator(f'#pending-entries tr[data-entry-id="{entry_id}"]')).to_have_count(0)
    recent = page.locator(f'#recent-approved tr[data-entry-id="{entry_id}"]')
    expect(recent).to_have_attribute("data-status", "approved")
    expect(recent.locator(".badge")).to_have_text("approved")
    sign_out(page)

    # Back as the technician, My time shows it approved.
    sign_in(page, base, tech.email)
    page.goto(base + "/time")
    row = page.locator(f'tr[data-entry-id="{entry_id}"]')
    expect(row).to_have_attribute("data-status", "approved")
    expect(row.locator(".badge")).to_have_text("approved")
    expect(row.locator('[data-action="submit"]')).to_have_count(0)


def test_select_all_and_bulk_approve(live_server: Any, make_org: Any, page: Page) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    ids = {str(kit.entry(tech, status="submitted").id) for _ in range(3)}
    sign_in(page, live_server.url, approver.email)
    page.goto(live_server.url + "/approvals")
    select_all = page.get_by_label("Select all")
    expect(select_all).to_be_visible()  # the small script reveals it
    select_all.check()
    page.locator("#approve-selected").click()
    expect(page.locator("#flash")).to_have_text("Approved 3 entries.")
    recent = page.locator("#recent-approved tbody tr")
    expect(recent).to_have_count(3)
    assert {recent.nth(i).get_attribute("data-entry-id") for i in range(3)} == ids
