"""No raw Python values on pages: every page of the role matrix, rendered for an admin of an
org with clients, tickets, time in several states, an invoice and changed settings (so the
audit log holds dicts, lists, booleans and amounts), shows no None/True/False, dict or list
reprs, enum reprs or Decimal/UUID/datetime reprs."""

from __future__ import annotations

import re
from typing import Any

from web.pages import PageClient
from web.test_invoices_page import draft, world
from web.test_pages import PAGES

RAW = re.compile(
    r">\s*(None|True|False)\s*<|\{'|\['|<[A-Z][A-Za-z]+\.[a-z_]+: |Decimal\(|datetime\.|UUID\("
)


def test_no_raw_python_values_on_pages(make_org: Any, site: Any) -> None:
    kit = make_org()
    w = world(kit, 90)
    invoice = draft(w)
    entry = kit.entry(w.tech, ticket=w.ticket)
    kit.entry(w.tech, ticket=w.ticket, status="rejected", approver=w.approver)
    ids = {"ticket": w.ticket.id, "client": w.client.id, "invoice": invoice.id, "entry": entry.id}
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get("/settings")
        changed = {
            "name": "Renamed MSP",
            "timezone": "Europe/Paris",
            "default_currency": "USD",
            "default_hourly_rate": "99",
            "allow_self_approval": "on",
        }
        assert page.post("/settings", changed).status_code == 303
        page.get(f"/tickets/{w.ticket.id}")
        assert page.post(f"/tickets/{w.ticket.id}/status", {"status": "closed"}).status_code == 303
        seen = 0
        for template in [*PAGES, "/audit?sort=action&dir=asc", "/search?q=server"]:
            path = template.format(**ids)
            r = page.get(path)
            assert r.status_code == 200, path
            found = [r.text[max(0, m.start() - 80) : m.end() + 20] for m in RAW.finditer(r.text)]
            assert not found, (path, found)
            seen += 1
        audit = page.get("/audit").text
        assert "default hourly rate $99.00" in audit and "allow self approval yes" in audit
    assert seen == len(PAGES) + 2
