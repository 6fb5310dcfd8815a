"""The layout every page shares: the menu on error pages, the favicon, and tables whose
numeric columns have their headers aligned with their numbers; in-process. The stylesheet's
rules for those (and for a disabled button) are checked in Debian's Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from regentra.invoices import service as invoices
from regentra.invoices.schemas import InvoiceCreate
from regentra.models import Org, User
from web.pages import PageClient, misaligned_headers, tables_in

STATIC = Path(__file__).resolve().parents[2] / "regentra" / "web" / "static"
NAV = '<nav class="nav" aria-label="Main">'


def test_not_found_keeps_the_menu_when_signed_in(make_org: Any, site: Any) -> None:
    kit = make_org()
    with PageClient(site) as page:
        r = page.get("/no-such-page")
        assert r.status_code == 404 and "Not found" in r.text
        assert NAV not in r.text and 'href="/login"' in r.text  # signed out: no menu

        page.login(kit.admin.email)
        for path in ("/no-such-page", "/invoices/not/a/page"):
            r = page.get(path)
            assert r.status_code == 404, path
            assert NAV in r.text, path
            assert 'href="/integrations"' in r.text  # the admin's menu
            assert kit.admin.display_name in r.text and 'id="sign-out"' in r.text
        # A form posted without its CSRF token: refused, still in the layout with the menu.
        refused = page.http.post("/clients", data={"name": "x"})
        assert refused.status_code == 403 and NAV in refused.text

    tech = kit.add_user("technician")
    with PageClient(site) as page:
        page.login(tech.email)
        r = page.get("/no-such-page")
        assert r.status_code == 404 and NAV in r.text
        assert 'href="/integrations"' not in r.text  # the technician's menu


def test_the_menus_time_leads_to_the_week_and_is_current_on_every_time_page(
    make_org: Any, site: Any
) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    entry = kit.entry(tech, ticket=kit.ticket())
    week = '<a href="/time/week" class="nav-link active" aria-current="page">Time</a>'
    elsewhere = '<a href="/time/week" class="nav-link active">Time</a>'
    with PageClient(site) as page:
        page.login(tech.email)
        assert week in page.get("/time/week").text
        assert week in page.get("/time/week?week=2026-01-05").text
        for path in ("/time", f"/time/{entry.id}/edit"):
            r = page.get(path)
            assert r.status_code == 200, path
            assert elsewhere in r.text, path
        tickets = page.get("/tickets").text
        assert '<a href="/time/week" class="nav-link">Time</a>' in tickets
        assert 'href="/time" class="nav-link' not in tickets


def test_every_page_links_the_favicon_the_app_serves(make_org: Any, site: Any) -> None:
    kit = make_org()
    with PageClient(site) as page:
        link = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        assert link in page.get("/login").text
        page.login(kit.admin.email)
        assert link in page.get("/").text and link in page.get("/no-such-page").text
        icon = page.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    svg = icon.text.strip()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"')
    assert svg.endswith("</svg>")


def test_numeric_headers_are_aligned_with_their_numbers(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    ticket = kit.ticket()
    kit.entry(tech, ticket=ticket, minutes=90, status="approved")
    kit.entry(tech, ticket=ticket, minutes=30, status="submitted")
    kit.entry(kit.admin, ticket=ticket, minutes=45)

    def make(s: Any) -> Any:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        return invoices.generate(
            s, org=org, user=admin, data=InvoiceCreate(client_id=ticket.client_id)
        ).id

    invoice_id = kit._commit(make)
    kit.entry(tech, ticket=ticket, minutes=60, status="approved")  # ready for a new invoice
    with PageClient(site) as page:
        page.login(kit.admin.email)
        with kit.api() as api:
            made = api.post(
                "/catalog", json={"name": "Onsite", "unit_amount": 9000, "currency": "USD"}
            )
            assert made.status_code == 201, made.text
        seen = 0
        for path in (
            "/",
            "/time",
            "/approvals",
            "/clients",
            f"/tickets/{ticket.id}",
            "/invoices/new",
            f"/invoices/new?client_id={ticket.client_id}",
            f"/invoices/{invoice_id}",
            "/catalog",
        ):
            r = page.get(path)
            assert r.status_code == 200, path
            assert misaligned_headers(r.text) == [], path
            seen += tables_in(r.text)
        assert seen >= 8  # the pages above did list their tables


@pytest.mark.browser
def test_the_stylesheet_aligns_numeric_headers_and_greys_disabled_buttons(page: Page) -> None:
    css = (STATIC / "app.css").read_text()
    page.set_content(
        f"""<style>{css}</style>
        <table class="table"><thead><tr><th>Name</th><th class="num">Amount</th></tr></thead>
        <tbody><tr><td>Onsite</td><td class="num">$90.00</td></tr></tbody></table>
        <button class="button button-primary" id="ready">Sync from Stripe</button>
        <button class="button button-primary" id="busy" disabled>Sync from Stripe</button>"""
    )

    def style(selector: str, prop: str) -> str:
        return str(page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}"))

    assert style("th.num", "textAlign") == "right"
    assert style("td.num", "textAlign") == "right"
    assert style("th:not(.num)", "textAlign") == "left"
    assert style("#busy", "cursor") == "not-allowed"
    assert style("#busy", "backgroundColor") != style("#ready", "backgroundColor")
    assert style("#busy", "color") != style("#ready", "color")
