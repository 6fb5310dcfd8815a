"""PSA → Catalog as a browser without JavaScript uses it."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select

from regentra.catalog import service as catalog
from regentra.catalog.schemas import StripeItem
from regentra.models import AuditEvent, CatalogSync
from web.pages import PageClient, flash, form_error


def _stripe_items(kit: Any, n: int) -> None:
    batch = [
        StripeItem(
            product_id=f"prod_{i}",
            price_id=f"price_{i}",
            name=f"Managed seat {i:02d}",
            description="Per device",
            unit_amount=2500 + i,
            currency="USD",
            recurring_interval="month" if i % 2 else None,
            recurring_interval_count=1 if i % 2 else None,
            active=i != 0,
        )
        for i in range(n)
    ]
    kit._commit(lambda s: catalog.upsert_stripe_items(s, org_id=kit.org.id, batch=batch))


def test_catalog_page_lists_searches_and_adds(make_org: Any, site: Any) -> None:
    kit = make_org()
    _stripe_items(kit, 5)
    with PageClient(site) as page:
        page.login(kit.admin.email)
        html = page.get("/catalog").text
        assert 'id="catalog-items"' in html and "Managed seat 03" in html
        assert "$25.03" in html and "every month" in html
        assert "Managed seat 00" not in html  # inactive: hidden by the default filter
        assert 'id="sync-from-stripe"' in html
        assert "Stripe is not connected" in html and "Settings → Integrations" in html
        html = page.get("/catalog", params={"active": "inactive"}).text
        assert "Managed seat 00" in html and "Managed seat 01" not in html
        html = page.get("/catalog", params={"q": "seat 04", "active": "all"}).text
        assert "Managed seat 04" in html and "Managed seat 02" not in html

        r = page.post(
            "/catalog",
            {"name": "Onsite visit", "unit_amount": "150.00", "currency": "USD", "active": "on"},
        )
        html = page.follow(r).text
        assert flash(html) == ("success", "Catalog item Onsite visit added.")
        assert "Onsite visit" in html and "$150.00" in html
        r = page.post("/catalog", {"name": "Bad", "unit_amount": "1.234", "currency": "USD"})
        assert r.status_code == 422 and "more decimals" in (form_error(r.text) or "")

        # Not connected: the button explains where to connect Stripe.
        html = page.follow(page.post("/catalog/sync")).text
        kind, text = flash(html) or ("", "")
        assert kind == "error" and "Settings → Integrations" in text


def test_progress_while_syncing_and_roles(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    _stripe_items(kit, 3)

    def running(s: Any) -> None:
        s.add(CatalogSync(org_id=kit.org.id, status="running", seen=120, total=250))

    kit._commit(running)
    with PageClient(site) as page:
        page.login(tech.email)
        html = page.get("/catalog").text
        assert "Syncing… 120 of 250" in html
        assert '<meta http-equiv="refresh"' in html  # refreshes itself, no JavaScript
        assert "Managed seat 01" in html
        assert 'id="catalog-form"' not in html and 'id="sync-from-stripe"' not in html
        assert page.post("/catalog", {"name": "Sneaky"}).status_code == 403
        assert page.post("/catalog/sync").status_code == 403
    with PageClient(site) as page:
        page.login(kit.admin.email)
        html = page.get("/catalog").text
        # The admin's Sync button is there but disabled while the sync runs.
        assert re.search(r'id="sync-from-stripe" disabled>', html)


def test_admin_edits_a_manual_item_not_a_stripe_one(make_org: Any, site: Any) -> None:
    kit = make_org()
    _stripe_items(kit, 2)
    tech = kit.add_user("technician")
    with kit.api() as api:
        made = api.post(
            "/catalog",
            json={"name": "Onsite visit", "unit_amount": 15000, "currency": "USD"},
        )
        assert made.status_code == 201, made.text
        item_id = made.json()["id"]
        stripe_id = next(
            i["id"]
            for i in api.get("/catalog").json()["items"]
            if i["source"] == "stripe" and i["active"]
        )
    with PageClient(site) as page:
        page.login(kit.admin.email)
        html = page.get("/catalog").text
        assert f'href="/catalog/{item_id}/edit"' in html
        assert f'data-item-id="{stripe_id}"' in html  # listed, but managed in Stripe:
        assert f'href="/catalog/{stripe_id}/edit"' not in html

        form = page.get(f"/catalog/{item_id}/edit")
        assert form.status_code == 200
        assert 'value="Onsite visit"' in form.text and 'value="150.00"' in form.text

        bad = {"name": "Onsite visit", "unit_amount": "1.234", "currency": "USD"}
        r = page.post(f"/catalog/{item_id}/edit", bad)
        assert r.status_code == 422 and "more decimals" in (form_error(r.text) or "")
        assert 'value="1.234"' in r.text  # what was typed stays
        r = page.post(f"/catalog/{item_id}/edit", {**bad, "name": "  "})
        assert r.status_code == 422

        good = {
            "name": "Onsite visit (half day)",
            "description": "Up to four hours on site",
            "unit_amount": "480.00",
            "currency": "USD",
        }
        r = page.post(f"/catalog/{item_id}/edit", good)
        assert r.status_code == 303, form_error(r.text)
        html = page.follow(r).text
        assert flash(html) == ("success", "Catalog item Onsite visit (half day) saved.")
        assert "Up to four hours on site" in html and "$480.00" in html

        # A Stripe item: neither the form nor a post changes it.
        assert page.get(f"/catalog/{stripe_id}/edit").status_code == 409
        r = page.post(f"/catalog/{stripe_id}/edit", good)
        assert r.status_code == 409 and "Stripe Dashboard" in r.text
        assert page.get(f"/catalog/{uuid.uuid4()}/edit").status_code == 404
    with PageClient(site) as page:
        page.login(tech.email)
        assert page.get(f"/catalog/{item_id}/edit").status_code == 403
        assert page.post(f"/catalog/{item_id}/edit", {"name": "Sneaky"}).status_code == 403
    with kit.api() as api:
        items = {i["id"]: i for i in api.get("/catalog").json()["items"]}
    assert (items[item_id]["name"], items[item_id]["unit_amount"]) == (good["name"], 48000)
    assert items[item_id]["description"] == good["description"]
    assert items[stripe_id]["name"].startswith("Managed seat")
    with kit.db.session() as s:
        audit = s.scalars(
            select(AuditEvent).where(
                AuditEvent.org_id == kit.org.id, AuditEvent.action == "catalog_item.updated"
            )
        ).one()
    assert audit.details["changed"] == ["description", "name", "unit_amount"]
