"""GET /search: clients, tickets and invoices of the signed-in user's org only, invoices only
for approvers and admins, a helpful message for a query under two characters."""

from __future__ import annotations

import re
from typing import Any

from regentra.invoices import service as invoices
from regentra.invoices.schemas import InvoiceCreate
from regentra.models import Org, User
from web.pages import PageClient


def _draft(kit: Any, client_id: Any) -> Any:
    def make(s: Any) -> Any:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        return invoices.generate(s, org=org, user=admin, data=InvoiceCreate(client_id=client_id))

    return kit._commit(make)


def _ids(html: str, kind: str) -> set[str]:
    return set(re.findall(rf'data-{kind}-id="([^"]+)"', html))


def test_search_finds_own_org_only_and_respects_roles(make_org: Any, site: Any) -> None:
    kit, other = make_org(), make_org()
    acme = kit.client(name="Acme Widgets")
    kit.client(name="Globex")
    printer = kit.ticket(client=acme, title="Widget printer jammed")
    tech = kit.add_user("technician")
    kit.entry(tech, ticket=printer, status="approved")
    invoice = _draft(kit, acme.id)
    # The other org has the same words everywhere: none of it may show.
    theirs = other.client(name="Acme Widgets Foreign")
    their_ticket = other.ticket(client=theirs, title="Widget printer abroad")
    other.entry(other.add_user("technician"), ticket=their_ticket, status="approved")
    their_invoice = _draft(other, theirs.id)

    with PageClient(site) as page:
        page.login(kit.admin.email)
        r = page.get("/search", params={"q": "widget"})
        assert r.status_code == 200
        assert _ids(r.text, "client") == {str(acme.id)}
        assert _ids(r.text, "ticket") == {str(printer.id)}
        assert _ids(r.text, "invoice") == {str(invoice.id)}  # by its client's name
        assert f'href="/tickets/{printer.id}"' in r.text
        assert f'href="/invoices/{invoice.id}"' in r.text
        for foreign in (theirs.id, their_ticket.id, their_invoice.id):
            assert str(foreign) not in r.text
        by_number = page.get("/search", params={"q": invoice.number}).text
        assert _ids(by_number, "invoice") == {str(invoice.id)}
        assert _ids(by_number, "client") == set()
        # LIKE's wildcards match themselves.
        assert _ids(page.get("/search", params={"q": "%%"}).text, "client") == set()
        assert _ids(page.get("/search", params={"q": "GLOB"}).text, "client") != set()

        short = page.get("/search", params={"q": "a"})
        assert short.status_code == 200
        assert "Type at least 2 characters" in short.text
        assert 'aria-invalid="true"' in short.text
        assert "data-client-id" not in short.text
        empty = page.get("/search")
        assert empty.status_code == 200 and "Find a client by name" in empty.text
        long = page.get("/search", params={"q": "x" * 5000})
        assert long.status_code == 200 and "first 100 characters" in long.text

    with PageClient(site) as page:
        page.login(tech.email)
        r = page.get("/search", params={"q": "widget"})
        assert r.status_code == 200
        assert _ids(r.text, "ticket") == {str(printer.id)}
        assert _ids(r.text, "invoice") == set()
        assert 'id="search-no-invoices"' in r.text
        assert str(invoice.id) not in r.text

    assert site.get("/search?q=widget").status_code == 303  # signed out: sign in first
