"""Agreements through the API and the pages (issue 17), in-process: made, listed, previewed,
a line added and changed from a date; bad input refused in words (4xx, never 500), another
org's agreement unknown (404), technicians refused (403)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from web.pages import PageClient, flash, form_error

from regentra.invoice_runs import service as runs
from regentra.models import Org

LINE = {"description": "Managed endpoint", "quantity": 5, "unit_amount": 2500}


def _create(api: Any, client_id: Any, **kw: Any) -> dict[str, Any]:
    body = {
        "client_id": str(client_id),
        "name": "Managed services",
        "starts_on": "2026-11-01",
        "lines": [LINE],
        **kw,
    }
    response = api.post("/agreements", json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


@pytest.fixture
def kit(make_org: Any) -> Any:
    return make_org()


def test_api_create_list_preview_and_change(kit: Any) -> None:
    client, other = kit.client("Contoso"), kit.client("Fabrikam")
    with kit.api() as api:
        made = _create(api, client.id, included_minutes=600, hourly_rate=15000)
        assert made["client_name"] == "Contoso" and made["currency"] == "USD"
        assert made["included_minutes"] == 600 and made["billed"] == []
        [line] = made["lines"]
        assert line["description"] == "Managed endpoint"
        assert line["terms"] == [
            {"effective_from": "2026-11-01", "quantity": 5, "unit_amount": 2500}
        ]
        _create(api, other.id, name="Backup")

        listed = api.get("/agreements", params={"client_id": str(client.id)}).json()
        assert [a["id"] for a in listed["items"]] == [made["id"]]
        assert listed["next_cursor"] is None
        assert len(api.get("/agreements").json()["items"]) == 2
        assert api.get(f"/agreements/{made['id']}").json()["name"] == "Managed services"

        # Monthly in advance from 1 November: the next invoice bills November, 5 x $25.00.
        preview = api.get(f"/agreements/{made['id']}/preview").json()
        assert (preview["period_start"], preview["period_end"]) == ("2026-11-01", "2026-11-30")
        assert preview["total"] == 12500 and preview["currency"] == "USD"
        assert [(p["quantity"], p["unit_amount"], p["amount"]) for p in preview["lines"]] == [
            (5, 2500, 12500)
        ]

        # A price from December on: November's preview is unchanged; the terms show both.
        changed = api.post(
            f"/agreements/{made['id']}/lines/{line['id']}/changes",
            json={"effective_from": "2026-12-01", "unit_amount": 3000},
        )
        assert changed.status_code == 201, changed.text
        terms = changed.json()["lines"][0]["terms"]
        assert [(t["effective_from"], t["quantity"], t["unit_amount"]) for t in terms] == [
            ("2026-11-01", 5, 2500),
            ("2026-12-01", 5, 3000),
        ]
        assert api.get(f"/agreements/{made['id']}/preview").json()["total"] == 12500
        # The quantity from the start (the same date: that term replaced): 6 x $25.00.
        api.post(
            f"/agreements/{made['id']}/lines/{line['id']}/changes",
            json={"effective_from": "2026-11-01", "quantity": 6},
        ).raise_for_status()
        assert api.get(f"/agreements/{made['id']}/preview").json()["total"] == 15000

        added = api.post(
            f"/agreements/{made['id']}/lines",
            json={"description": "Backup seat", "quantity": 2, "unit_amount": 900},
        )
        assert added.status_code == 201, added.text
        assert [x["description"] for x in added.json()["lines"]] == [
            "Managed endpoint",
            "Backup seat",
        ]
        assert api.get(f"/agreements/{made['id']}/preview").json()["total"] == 15000 + 1800

        patched = api.patch(f"/agreements/{made['id']}", json={"name": "Managed IT"})
        assert patched.status_code == 200 and patched.json()["name"] == "Managed IT"
        assert api.delete(f"/agreements/{made['id']}").status_code == 204
        assert api.get(f"/agreements/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"starts_on": "2026-13-01"}, 422, "starts_on"),
        ({"starts_on": "2026-11-01", "ends_on": "2026-10-01"}, 422, "end date"),
        ({"period": "weekly"}, 422, "period"),
        ({"lines": [{"description": "No price", "quantity": 1}]}, 422, "unit price"),
        ({"lines": [{"catalog_item_id": str(uuid.uuid4())}]}, 422, "catalog"),
        ({"client_id": str(uuid.uuid4())}, 422, "client"),
        ({"lines": [{"description": "x", "quantity": -1, "unit_amount": 1}]}, 422, "quantity"),
    ],
)
def test_api_bad_input_in_words(kit: Any, body: dict[str, Any], status: int, words: str) -> None:
    client = kit.client()
    full = {"client_id": str(client.id), "name": "Bad", "starts_on": "2026-11-01", **body}
    with kit.api() as api:
        response = api.post("/agreements", json=full)
        assert response.status_code == status, response.text
        assert words in response.text.lower()
        assert api.get("/agreements").json()["items"] == []  # nothing half-made


def test_api_bad_change_and_other_org_and_roles(kit: Any, make_org: Any) -> None:
    client = kit.client()
    with kit.api() as api:
        made = _create(api, client.id)
        line_id = made["lines"][0]["id"]
        base = f"/agreements/{made['id']}/lines/{line_id}/changes"
        before = api.post(base, json={"effective_from": "2026-10-01", "quantity": 2})
        assert before.status_code == 422 and "before the agreement starts" in before.text
        assert api.post(base, json={"effective_from": "2026-11-01"}).status_code == 422
        bad_date = api.post(base, json={"effective_from": "not a date", "quantity": 2})
        assert bad_date.status_code == 422 and "effective_from" in bad_date.text
        unknown_line = api.post(
            f"/agreements/{made['id']}/lines/{uuid.uuid4()}/changes",
            json={"effective_from": "2026-12-01", "quantity": 2},
        )
        assert unknown_line.status_code == 422, unknown_line.text
        assert api.get("/agreements/not-an-id").status_code == 422

    intruder = make_org("Intruder MSP")
    with intruder.api() as api:
        for path in (f"/agreements/{made['id']}", f"/agreements/{made['id']}/preview"):
            assert api.get(path).status_code == 404
        assert api.post(base, json={"effective_from": "2026-12-01"}).status_code == 404
        assert api.delete(f"/agreements/{made['id']}").status_code == 404
        assert api.get("/agreements").json()["items"] == []
        refused = api.post(
            "/agreements",
            json={"client_id": str(client.id), "name": "Theirs", "starts_on": "2026-11-01"},
        )
        assert refused.status_code == 422 and "client" in refused.text

    tech, approver = kit.add_user("technician"), kit.add_user("approver")
    with kit.api(tech) as api:
        for response in (
            api.get("/agreements"),
            api.get(f"/agreements/{made['id']}"),
            api.post("/agreements", json={"client_id": str(client.id)}),
        ):
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "forbidden"
    with kit.api(approver) as api:
        assert api.get(f"/agreements/{made['id']}/preview").status_code == 200
        assert api.patch(f"/agreements/{made['id']}", json={"name": "X"}).status_code == 403


def _form(client_id: Any, **kw: str) -> dict[str, str]:
    return {
        "client_id": str(client_id),
        "name": "Managed services",
        "starts_on": "2026-11-01",
        "ends_on": "",
        "period": "monthly",
        "billing": "advance",
        "included_hours": "7:30",
        "hourly_rate": "160.00",
        "description": "Managed endpoint",
        "unit_amount": "25.00",
        "quantity": "5",
        **kw,
    }


def test_pages_create_show_add_and_change(kit: Any, site: Any) -> None:
    client = kit.client("Contoso")
    with PageClient(site) as page:
        page.login(kit.admin.email)
        html = page.get(f"/clients/{client.id}").text
        assert 'id="agreements"' in html and 'id="no-agreements"' in html
        assert 'id="agreement-form"' in html

        r = page.post("/agreements", _form(client.id))
        html = page.follow(r).text
        assert flash(html) == ("success", "Agreement Managed services created.")
        assert "7:30 per period" in html and "$160.00" in html
        assert "Monthly, in advance" in html
        assert 'id="preview-total" data-amount="12500"' in html and "$125.00" in html
        assert "Period 2026-11-01 to 2026-11-30" in html
        agreement_path = r.headers["location"]

        html = page.get(f"/clients/{client.id}").text
        assert f'href="{agreement_path}"' in html and "Managed services" in html

        r = page.post(
            f"{agreement_path}/lines",
            {"description": "Backup seat", "unit_amount": "9.00", "quantity": "2"},
        )
        html = page.follow(r).text
        assert flash(html) == ("success", "Line Backup seat added.")
        assert 'data-amount="14300"' in html  # 125.00 + 2 x 9.00

        line_id = html.split('name="line_id"')[1].split('value="')[1].split('"')[0]
        r = page.post(
            f"{agreement_path}/changes",
            {
                "line_id": line_id,
                "effective_from": "2026-12-01",
                "quantity": "",
                "unit_amount": "30",
            },
        )
        html = page.follow(r).text
        kind, said = flash(html) or ("", "")
        assert kind == "success" and "$143.00" in said, said
        assert 'data-from="2026-12-01"' in html and "$30.00" in html

        # A change inside no period at all: before the start, pointed at the date field.
        r = page.post(
            f"{agreement_path}/changes",
            {"line_id": line_id, "effective_from": "2026-10-01", "quantity": "3"},
        )
        assert r.status_code == 422
        assert "before the agreement starts" in (form_error(r.text) or "")
        assert 'data-field="effective_from"' in r.text
        r = page.post(f"{agreement_path}/changes", {"line_id": line_id, "effective_from": ""})
        assert r.status_code == 422 and 'data-field="effective_from"' in r.text
        r = page.post(f"{agreement_path}/lines", {"description": "No price", "quantity": "1"})
        assert r.status_code == 422 and 'data-field="unit_amount"' in r.text


@pytest.mark.parametrize(
    ("typed", "field", "words"),
    [
        ({"starts_on": "2026-13-01"}, "starts_on", "Start date must be a date"),
        ({"ends_on": "2026-10-01"}, "ends_on", "end date must not be before"),
        ({"included_hours": "lots"}, "included_hours", "Included hours"),
        ({"hourly_rate": "1.234"}, "hourly_rate", "Hourly rate"),
        ({"unit_amount": ""}, "unit_amount", "unit price"),
        ({"quantity": "many"}, "quantity", "Quantity must be a whole number"),
        ({"name": ""}, "name", "Name is required"),
    ],
)
def test_new_agreement_form_errors(
    kit: Any, site: Any, typed: dict[str, str], field: str, words: str
) -> None:
    client = kit.client()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get(f"/clients/{client.id}")
        r = page.post("/agreements", _form(client.id, **typed))
        assert r.status_code == 422, r.text[:500]
        assert words.lower() in (form_error(r.text) or "").lower()
        assert f'data-field="{field}"' in r.text
        # The form keeps what was typed, and nothing was made.
        assert 'value="Managed endpoint"' in r.text and 'id="no-agreements"' in r.text


def test_included_hours_as_hours(kit: Any, site: Any) -> None:
    client = kit.client()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get(f"/clients/{client.id}")
        html = page.follow(page.post("/agreements", _form(client.id, included_hours="10"))).text
        assert "10:00 per period" in html


def test_pages_roles_and_other_org(kit: Any, make_org: Any, site: Any) -> None:
    client = kit.client()
    with kit.api() as api:
        made = _create(api, client.id)
    path = f"/agreements/{made['id']}"
    tech, approver = kit.add_user("technician"), kit.add_user("approver")
    with PageClient(site) as page:
        page.login(tech.email)
        assert page.get(path).status_code == 403
        assert page.post("/agreements", _form(client.id)).status_code == 403
    with PageClient(site) as page:
        page.login(approver.email)
        html = page.get(path).text
        assert "Managed endpoint" in html and 'id="preview-total"' in html
        assert 'id="add-line"' not in html and 'id="change-line"' not in html
        assert page.post(f"{path}/lines", {"description": "x"}).status_code == 403
    intruder = make_org("Intruder MSP")
    with PageClient(site) as page:
        page.login(intruder.admin.email)
        assert page.get(path).status_code == 404
        assert page.post(f"{path}/lines", {"description": "x"}).status_code == 404
        assert page.post("/agreements", _form(client.id)).status_code == 404


# ---- editing, deleting, the quantity rule, a separate agreement on the run page --------------


def _last_month(db: Any, kit: Any) -> tuple[date, date]:
    with db.session() as s:
        org = s.get(Org, kit.org.id)
        assert org is not None
        return runs.last_month(org)


def _edit(**kw: str) -> dict[str, str]:
    return {
        "name": "Managed IT",
        "ends_on": "",
        "included_hours": "10",
        "rollover": "on",
        "hourly_rate": "",
        "separate_invoice": "",
        **kw,
    }


def test_pages_edit_an_agreement(kit: Any, site: Any) -> None:
    client = kit.client("Contoso")
    with kit.api() as api:
        made = _create(api, client.id, included_minutes=450, hourly_rate=16000)
    path = f"/agreements/{made['id']}"
    with PageClient(site) as page:
        page.login(kit.admin.email)
        html = page.get(path).text
        # The form starts from the agreement as it is.
        assert 'id="edit-agreement-form"' in html
        assert 'id="edit-included" name="included_hours"' in html and 'value="7:30"' in html
        assert 'value="160.00"' in html
        assert "the next run credits the days after it" in html

        r = page.post(f"{path}/edit", _edit(ends_on="2027-03-31", separate_invoice="on"))
        html = page.follow(r).text
        assert flash(html) == ("success", "Agreement Managed IT saved.")
        assert "<h1>Managed IT</h1>" in html and "until 2027-03-31" in html
        assert "10:00 per period, unused hours roll over" in html
        assert "the client's rate" in html
        assert "Billed on its own invoice" in html
        with kit.api() as api:
            now = api.get(path).json()
        assert (now["ends_on"], now["included_minutes"], now["hourly_rate"]) == (
            "2027-03-31",
            600,
            None,
        )
        assert now["rollover"] is True and now["separate_invoice"] is True

        # Blank end date: open-ended again; blank included hours: none.
        r = page.post(f"{path}/edit", _edit(included_hours="", rollover="", hourly_rate="150"))
        html = page.follow(r).text
        assert "open-ended" in html and 'id="agreement-included"><span class="muted">none' in html
        assert "$150.00" in html and "On the client's invoice" in html

        # Bad input: refused in words on its field, what was typed kept, nothing changed.
        for typed, field, words in (
            ({"name": ""}, "name", "Name is required"),
            ({"ends_on": "2026-10-01"}, "ends_on", "end date must not be before the start"),
            ({"ends_on": "soon"}, "ends_on", "End date must be a date"),
            ({"included_hours": "lots"}, "included_hours", "Included hours"),
            ({"hourly_rate": "-5"}, "hourly_rate", "Hourly rate must not be negative"),
        ):
            r = page.post(f"{path}/edit", _edit(**{"name": "Renamed", **typed}))
            assert r.status_code == 422, (typed, r.text[:300])
            assert words.lower() in (form_error(r.text) or "").lower(), form_error(r.text)
            assert f'data-field="{field}"' in r.text
            assert 'id="edit-agreement" open' in r.text
        assert "<h1>Managed IT</h1>" in page.get(path).text


def test_pages_an_end_before_the_last_billed_period_is_refused_in_words(
    kit: Any, site: Any, db: Any
) -> None:
    start, end = _last_month(db, kit)
    this_month = end + timedelta(days=1)
    client = kit.client("Contoso")
    with kit.api() as api:
        made = _create(api, client.id, starts_on=start.isoformat())  # monthly, in advance
        run = api.post("/invoice-runs", json={"period": start.strftime("%Y-%m")})
        assert run.status_code == 201, run.text
        api.post(f"/invoice-runs/{run.json()['id']}/generate", json={}).raise_for_status()
        # Last month and this month are billed (in advance).
        billed = [b["period_start"] for b in api.get(f"/agreements/{made['id']}").json()["billed"]]
        assert billed == [this_month.isoformat(), start.isoformat()]
    path = f"/agreements/{made['id']}"
    with PageClient(site) as page:
        page.login(kit.admin.email)
        r = page.post(f"{path}/edit", _edit(ends_on=(start + timedelta(days=14)).isoformat()))
        assert r.status_code == 422
        said = form_error(r.text) or ""
        assert f"The end date must be on or after {end.isoformat()}" in said, said
        assert "billed and closed" in said and 'data-field="ends_on"' in r.text
        # Inside the last billed period: allowed (the next run credits the rest).
        inside = this_month + timedelta(days=9)
        r = page.post(f"{path}/edit", _edit(ends_on=inside.isoformat()))
        html = page.follow(r).text
        assert flash(html) == ("success", "Agreement Managed IT saved.")
        assert f"until {inside.isoformat()}" in html

        # A billed agreement cannot be deleted: the page says why and suggests ending it.
        assert 'id="delete-refused"' in html and 'id="delete-agreement-form"' not in html
        assert "set an end date" in html
        r = page.post(f"{path}/delete", {"confirm": "yes"})
        assert r.status_code == 409
        said = form_error(r.text) or ""
        assert "has billed periods: set an end date instead of deleting it" in said, said
        assert page.get(path).status_code == 200


def test_pages_delete_an_agreement_never_billed(kit: Any, site: Any) -> None:
    client = kit.client("Contoso")
    with kit.api() as api:
        made = _create(api, client.id)
    path = f"/agreements/{made['id']}"
    with PageClient(site) as page:
        page.login(kit.admin.email)
        html = page.get(path).text
        assert 'id="delete-agreement-form"' in html and 'id="delete-agreement-confirm"' in html
        # Without the tick: refused, still there.
        r = page.post(f"{path}/delete", {})
        assert r.status_code == 422
        assert "Tick the box to confirm deleting" in (form_error(r.text) or "")
        assert page.get(path).status_code == 200
        r = page.post(f"{path}/delete", {"confirm": "yes"})
        assert r.headers["location"] == f"/clients/{client.id}"
        html = page.follow(r).text
        assert flash(html) == ("success", "Agreement Managed services deleted.")
        assert 'id="no-agreements"' in html
        assert page.get(path).status_code == 404
    approver = kit.add_user("approver")
    with kit.api() as api:
        other = _create(api, client.id)
    with PageClient(site) as page:
        page.login(approver.email)
        html = page.get(f"/agreements/{other['id']}").text
        assert 'id="delete-agreement"' not in html and 'id="edit-agreement"' not in html
        assert page.post(f"/agreements/{other['id']}/delete", {"confirm": "yes"}).status_code == 403
        assert page.post(f"/agreements/{other['id']}/edit", _edit()).status_code == 403


def test_pages_the_quantity_rule_on_a_new_agreement_and_a_new_line(kit: Any, site: Any) -> None:
    client = kit.client("Contoso")
    for _ in range(3):
        kit.ticket(client)
    with PageClient(site) as page:
        page.login(kit.admin.email)
        html = page.get(f"/clients/{client.id}").text
        assert 'id="agreement-rule-tickets"' in html and 'id="agreement-separate"' in html
        r = page.post(
            "/agreements",
            _form(
                client.id,
                description="Helpdesk ticket",
                unit_amount="10",
                quantity_rule="open_tickets",
            ),
        )
        html = page.follow(r).text
        assert "(open tickets, counted when billed)" in html
        assert 'data-amount="3000"' in html  # 3 open tickets x $10.00
        agreement_path = r.headers["location"]

        r = page.post(
            f"{agreement_path}/lines",
            {
                "description": "Ticket review",
                "unit_amount": "2.00",
                "quantity": "",
                "quantity_rule": "open_tickets",
            },
        )
        html = page.follow(r).text
        assert flash(html) == ("success", "Line Ticket review added.")
        assert 'data-amount="3600"' in html  # 3000 + 3 x $2.00
        r = page.post(
            f"{agreement_path}/lines",
            {"description": "x", "unit_amount": "1", "quantity_rule": "devices"},
        )
        assert r.status_code == 422 and 'data-field="quantity_rule"' in r.text
    with kit.api() as api:
        made = api.get(agreement_path).json()
    assert [line["quantity_rule"] for line in made["lines"]] == ["open_tickets", "open_tickets"]
    assert made["separate_invoice"] is False


def test_the_run_page_links_an_agreement_on_its_own_invoice(kit: Any, site: Any, db: Any) -> None:
    start, _ = _last_month(db, kit)
    client = kit.client("Contoso")
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get(f"/clients/{client.id}")
        form = _form(client.id, name="Backup", starts_on=start.isoformat(), billing="arrears")
        r = page.post("/agreements", {**form, "included_hours": "", "separate_invoice": "on"})
        agreement_path = r.headers["location"]
        assert "Billed on its own invoice" in page.follow(r).text
    with kit.api() as api:
        _create(api, client.id, name="Endpoints", starts_on=start.isoformat(), billing="arrears")
        run = api.post("/invoice-runs", json={"period": start.strftime("%Y-%m")}).json()
    shown = [(i["client_name"], i["agreement_id"]) for i in run["items"]]
    own = agreement_path.rsplit("/", 1)[1]
    assert shown == [("Contoso", None), ("Contoso · Backup", own)]
    with PageClient(site) as page:
        page.login(kit.admin.email)
        html = page.get(f"/invoice-runs/{run['id']}").text
        assert f'<a href="{agreement_path}" data-agreement-id="{own}">Contoso · Backup</a>' in html
        assert f'<a href="/clients/{client.id}">Contoso</a>' in html
