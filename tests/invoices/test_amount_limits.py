"""Lines and invoice totals stay within Stripe's maximum charge (99,999,999 in Stripe's units:
USD 999,999.99, ISK 999,999), API and page, with a message that names the limit."""

from __future__ import annotations

from typing import Any

from web.pages import PageClient, form_error

from invoices.test_generate import Team
from regentra.kit.money import maximum_charge


def test_the_maximum_is_stripes_per_currency() -> None:
    assert maximum_charge("USD") == 99_999_999
    assert maximum_charge("ISK") == 999_999  # Stripe's ISK amounts are ours times 100
    assert maximum_charge("JPY") == 99_999_999
    assert maximum_charge("KWD") == 99_999_999


def test_lines_and_totals_over_the_maximum_are_refused(make_org: Any) -> None:
    kit = make_org()
    team = Team(kit, rate=99_999_999)  # $999,999.99 an hour
    team.log(60)
    invoice = team.generate().json()
    assert invoice["total"] == 99_999_999  # exactly the maximum: fine
    url = f"/invoices/{invoice['id']}/lines"
    with kit.api() as api:
        r = api.post(url, json={"description": "One more cent", "unit_amount": 1})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"] == (
            "The invoice's total would be $1,000,000.00, over Stripe's maximum charge of "
            "$999,999.99: split it across invoices."
        )
        r = api.get(f"/invoices/{invoice['id']}")
        assert r.json()["total"] == 99_999_999 and len(r.json()["lines"]) == 1
    other = Team(make_org(), currency="ISK", rate=100)
    other.log(60)
    draft = other.generate().json()
    with other.kit.api() as api:
        line = {"description": "Rack", "unit_amount": 500_000, "quantity": 2}
        r = api.post(f"/invoices/{draft['id']}/lines", json=line)
        assert r.status_code == 422, r.text
        assert "The line's amount would be ISK" in r.json()["error"]["message"]
        assert "maximum charge of ISK" in r.json()["error"]["message"]


def test_an_invoice_of_entries_over_the_maximum_is_refused(make_org: Any) -> None:
    kit = make_org()
    team = Team(kit, rate=60_000_000)
    team.log(60)
    team.log(60)
    r = team.generate()
    assert r.status_code == 422, r.text
    assert "The invoice's total would be $1,200,000.00" in r.json()["error"]["message"]
    assert team.generate().status_code == 422  # nothing was kept: the same answer again


def test_the_page_says_so_too(make_org: Any, site: Any) -> None:
    kit = make_org()
    team = Team(kit, rate=99_999_999)
    team.log(60)
    invoice = team.generate().json()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get(f"/invoices/{invoice['id']}")
        r = page.post(
            f"/invoices/{invoice['id']}/lines",
            {"description": "One more cent", "unit_amount": "0.01", "quantity": "1"},
        )
        assert r.status_code == 422, r.status_code
        message = form_error(r.text) or r.text
        assert "over Stripe&#39;s maximum charge of $999,999.99" in message or (
            "over Stripe's maximum charge of $999,999.99" in message
        )
