"""The lists (time, invoices, tickets, clients, audit) through web/listing.py: newest first,
sortable columns with aria-sort, filters in a GET form, totals of everything filtered (not
only the page), pages that keep working under any order, and bad parameters answered in
words (a notice, or a 422), never a 500."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, timedelta
from typing import Any

from regentra.invoices import service as invoices
from regentra.invoices.schemas import InvoiceCreate
from regentra.models import Org, User
from regentra.web import listing
from web.pages import PageClient, form_error
from web.test_invoices_page import draft, world

_ENTRY = re.compile(r'data-entry-id="([^"]+)"')


def _next(html: str) -> str | None:
    found = re.search(r'href="([^"]+)" id="older"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _flat(pages: list[list[str]]) -> list[str]:
    return [item for found in pages for item in found]


def _all_pages(page: PageClient, path: str, pattern: re.Pattern[str]) -> list[list[str]]:
    pages: list[list[str]] = []
    url: str | None = path
    while url:
        r = page.get(url)
        assert r.status_code == 200, (url, r.status_code)
        pages.append(pattern.findall(r.text))
        url = _next(r.text)
        assert len(pages) < 10
    return pages


def test_my_time_sorts_filters_pages_and_totals_everything(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    acme = kit.client(name="Acme", hourly_rate=12000, currency="USD")
    other = kit.client(name="Other", hourly_rate=6000, currency="EUR")
    ticket, elsewhere = kit.ticket(acme, title="Backups"), kit.ticket(other, title="Mail")
    today = date.today()
    made = [
        kit.entry(tech, ticket=ticket, minutes=10 + i, work_date=today - timedelta(days=i % 7))
        for i in range(52)
    ]
    kit.entry(tech, ticket=elsewhere, minutes=30, work_date=today - timedelta(days=40))
    kit.entry(kit.add_user("technician"), ticket=ticket, minutes=999)  # not mine

    with PageClient(site) as page:
        page.login(tech.email)
        first = page.get("/time")
        assert first.status_code == 200
        assert len(_ENTRY.findall(first.text)) == 50  # one page; the totals are of all 53
        assert 'aria-sort="descending"' in first.text and 'data-sort="date"' in first.text
        minutes = sum(10 + i for i in range(52)) + 30
        assert f'data-total-minutes="{minutes}"' in first.text
        assert "Total of 53 entries (all pages)" in first.text
        assert 'data-total-currency="USD">$3,692.00<' in first.text  # 200 per minute, 1846 minutes
        assert 'data-total-currency="EUR">€30.00<' in first.text

        # Newest work date first by default; the old EUR entry is last, on page 2.
        pages = _all_pages(page, "/time", _ENTRY)
        assert [len(p) for p in pages] == [50, 3]
        assert len(set(_flat(pages))) == 53
        dates = re.findall(r'<td class="nowrap">(\d{4}-\d\d-\d\d)</td>', page.get("/time").text)
        assert dates == sorted(dates, reverse=True)

        # Sorted by duration, shortest first, across pages with nothing twice or lost.
        pages = _all_pages(page, "/time?sort=duration&dir=asc", re.compile(r'data-minutes="(\d+)"'))
        values = [int(m) for m in _flat(pages)]
        assert values == sorted(values) and len(values) == 53
        header = page.get("/time?sort=duration&dir=asc").text
        assert re.search(
            r'<th scope="col" class="num" aria-sort="ascending"><a href="[^"]*dir=desc', header
        )

        # Filters: client and work dates, totals follow them.
        eur = page.get("/time", params={"client": str(other.id)}).text
        assert _ENTRY.findall(eur) == [str(made[0].id)] or len(_ENTRY.findall(eur)) == 1
        assert 'data-total-minutes="30"' in eur and "USD" not in eur.split("<tfoot>")[1]
        week = page.get(
            "/time",
            params={
                "date_from": (today - timedelta(days=1)).isoformat(),
                "date_to": today.isoformat(),
            },
        ).text
        expected = sum(1 for i in range(52) if i % 7 in (0, 1))
        assert len(_ENTRY.findall(week)) == expected
        assert 'name="date_from"' in week and 'for="filter-from"' in week

        # Bad input: a clear 422 or a notice, never a 500.
        r = page.get("/time?date_from=last-week")
        assert r.status_code == 422 and "must be a date like" in r.text
        r = page.get(f"/time?date_from={today}&date_to={today - timedelta(days=3)}")
        assert r.status_code == 422 and "must not be after" in r.text
        r = page.get("/time?sort=amount;drop&dir=asc")
        assert r.status_code == 200 and "cannot be sorted by" in r.text
        assert len(_ENTRY.findall(r.text)) == 50
        r = page.get("/time?dir=sideways")
        assert r.status_code == 200 and "is not asc or desc" in r.text
        r = page.get("/time?status=lost")
        assert r.status_code == 200 and "is not one of" in r.text
        assert page.get("/time?cursor=%%%").status_code == 422
        # A tampered link (a number where a date belongs, text for a duration): words too.
        for forged in (["date", "desc", ["i", 5]], ["duration", "asc", ["s", "x"]]):
            body = json.dumps([*forged, made[0].id.hex]).encode()
            cursor = base64.urlsafe_b64encode(body).decode().rstrip("=")
            sort, direction = forged[0], forged[1]
            r = page.get("/time", params={"sort": sort, "dir": direction, "cursor": cursor})
            assert r.status_code == 422 and listing.STALE_CURSOR in r.text
        # A page link of another order is stale, in words.
        older = _next(page.get("/time").text)
        assert older
        r = page.get(older + "&sort=duration&dir=asc")
        assert r.status_code == 422 and listing.STALE_CURSOR in r.text


def test_invoices_sort_by_total_and_total_per_currency(make_org: Any, site: Any) -> None:
    kit = make_org()
    small, big = world(kit, 30), world(kit, 240)
    euro = world(kit, 60, currency="EUR")
    drafts = [draft(small), draft(big), draft(euro)]
    with PageClient(site) as page:
        page.login(kit.admin.email)
        html = page.get("/invoices").text
        rows = re.findall(r'data-invoice-id="([^"]+)"', html)
        assert rows == [str(i.id) for i in reversed(drafts)]  # newest first
        totals = dict(
            re.findall(r'data-totals-currency="(\w+)">.*?data-total>([^<]+)<', html, re.S)
        )
        assert totals == {"EUR": "€120.00", "USD": "$540.00"}
        # Each row names its currency; the count is of every invoice, not of one currency's.
        labels = re.findall(r'data-totals-currency="\w+">\s*<th scope="row"[^>]*>([^<]+)<', html)
        assert sorted(labels) == ["Total in EUR (3 invoices in 2 currencies)", "Total in USD"]
        by_total = page.get("/invoices?sort=total&dir=desc").text
        assert re.findall(r'data-invoice-id="([^"]+)"', by_total)[0] == str(drafts[1].id)
        assert 'aria-sort="descending"' in by_total
        # Filtering keeps the order (hidden fields) and the Reset link appears.
        r = page.get(
            "/invoices", params={"sort": "total", "dir": "asc", "client_id": str(small.client.id)}
        )
        assert '<input type="hidden" name="sort" value="total">' in r.text
        assert 'href="/invoices" class="button button-quiet">Reset' in r.text
        assert re.findall(r'data-invoice-id="([^"]+)"', r.text) == [str(drafts[0].id)]
        today = date.today().isoformat()
        assert (
            len(re.findall(r"data-invoice-id=", page.get(f"/invoices?date_from={today}").text)) == 3
        )
        assert "data-invoice-id=" not in page.get("/invoices?date_to=2000-01-01").text
        r = page.get("/invoices?date_from=2024-13-01")
        assert r.status_code == 422 and "Created from must be a date" in (form_error(r.text) or "")
        assert page.get("/invoices?sort=due&dir=asc").status_code == 200  # empty dues last


def test_tickets_and_clients_sort_filter_and_page(make_org: Any, site: Any) -> None:
    kit = make_org()
    rated = [kit.client(name=f"Client {n:02d}", hourly_rate=1000 + n) for n in range(30)]
    unrated = [kit.client(name=f"Plain {n:02d}") for n in range(25)]
    kit.client(name="100%_sure")
    ticket_b = kit.ticket(rated[0], title="b second")
    ticket_a = kit.ticket(rated[1], title="A first")
    with PageClient(site) as page:
        page.login(kit.admin.email)
        client_row = re.compile(r'data-client-id="([^"]+)"')
        # Hourly rate, highest first, empty rates last: every client once across pages.
        pages = _all_pages(page, "/clients?sort=rate&dir=desc", client_row)
        ids = _flat(pages)
        assert len(ids) == 56 and len(set(ids)) == 56
        assert ids[:30] == [str(c.id) for c in reversed(rated)]
        assert set(ids[30:]) == {str(c.id) for c in unrated} | (
            set(ids) - {str(c.id) for c in rated + unrated}
        )
        asc = _flat(_all_pages(page, "/clients?sort=rate&dir=asc", client_row))
        assert asc[:30] == [str(c.id) for c in rated] and len(set(asc)) == 56
        # Name search ignores case; % and _ match only themselves.
        assert client_row.findall(page.get("/clients?q=PLAIN 0").text).__len__() == 10
        assert len(client_row.findall(page.get("/clients", params={"q": "%_"}).text)) == 1
        listing_html = page.get("/clients?q=plain").text
        assert "25 clients match the filters." in listing_html
        assert 'for="filter-q"' in listing_html

        ticket_row = re.compile(r'data-ticket-id="([^"]+)"')
        assert ticket_row.findall(page.get("/tickets").text) == [str(ticket_a.id), str(ticket_b.id)]
        by_title = page.get("/tickets?sort=title&dir=asc").text
        assert ticket_row.findall(by_title) == [str(ticket_a.id), str(ticket_b.id)]
        assert 'aria-sort="ascending"' in by_title
        by_client = page.get("/tickets?sort=client&dir=desc&status=all").text
        assert ticket_row.findall(by_client) == [str(ticket_a.id), str(ticket_b.id)]
        r = page.get("/tickets?client=nope")
        assert r.status_code == 422 and "Choose a client from the list." in r.text
        assert "data-ticket-id" not in r.text


def test_audit_log_in_peoples_words(make_org: Any, site: Any) -> None:
    kit = make_org()
    w = world(kit, 90)
    boss = kit.add_user("admin")  # a user with a name (the org's first admin has none)

    def make(s: Any) -> Any:
        org, admin = s.get(Org, kit.org.id), s.get(User, boss.id)
        return invoices.generate(s, org=org, user=admin, data=InvoiceCreate(client_id=w.client.id))

    invoice = kit._commit(make)
    with PageClient(site) as page:
        page.login(boss.email)
        html = page.get("/audit").text
        created = re.search(
            r'(?s)<tr data-event-id="[^"]+" data-action="invoice.created">(.*?)</tr>', html
        )
        assert created, "the invoice's creation is in the log"
        row = created.group(1)
        assert boss.display_name != boss.email
        assert boss.display_name in row and boss.email not in row
        assert f'<a href="/invoices/{invoice.id}">Invoice {invoice.number}</a>' in row
        assert "$180.00" in row and "18000" not in row  # 1.5 h at 120.00, not cents
        assert "<td>Invoice: created</td>" in row and "<code>" not in row  # the action in words
        # The dashboard's recent activity says the same, with the subject's name and link.
        home = page.get("/").text.split('id="activity"')[1].split("</table>")[0]
        assert "Invoice: created" in home and "invoice.created</" not in home
        assert f'<a href="/invoices/{invoice.id}">Invoice {invoice.number}</a>' in home
        client_row = re.search(r'(?s)data-action="client.created">(.*?)</tr>', html)
        assert (
            client_row
            and f'<a href="/clients/{w.client.id}">{w.client.name}</a>' in client_row.group(1)
        )
        for raw in ("None", "True", "False", "{'", "[]", "<ActorType", "Role."):
            assert raw not in html.split("<tbody>")[1], raw
        # Filter by who acted, sorted by action.
        mine = page.get("/audit", params={"actor": str(boss.id), "sort": "action", "dir": "asc"})
        actions = re.findall(r'data-action="([^"]+)"', mine.text.split("<tbody>")[1])
        assert actions == sorted(actions) and actions
        assert page.get("/audit?actor=someone").status_code == 422

        # The invoice's timeline says who, by name.
        detail = page.get(f"/invoices/{invoice.id}").text
        timeline = detail.split('id="timeline"')[1].split("</ol>")[0]
        assert f"by {boss.display_name}" in timeline and boss.email not in timeline
