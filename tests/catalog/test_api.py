"""The catalog over HTTP: manual items, search, and logging time at a catalog item's rate."""

from __future__ import annotations

from datetime import date
from typing import Any


def test_catalog_api_and_time_at_a_catalog_rate(make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    ticket = kit.ticket(kit.client(currency="USD"))
    with kit.api() as api:
        r = api.post(
            "/catalog",
            json={"name": "Emergency call-out", "unit_amount": 22500, "currency": "usd"},
        )
        assert r.status_code == 201, r.text
        item = r.json()
        assert (item["currency"], item["source"], item["active"]) == ("USD", "manual", True)
        eur = api.post(
            "/catalog", json={"name": "Euro rate", "unit_amount": 100, "currency": "EUR"}
        ).json()
        assert api.post("/catalog", json={"name": "x", "unit_amount": -1}).status_code == 422
        found = api.get("/catalog", params={"q": "call-out"}).json()
        assert [i["id"] for i in found["items"]] == [item["id"]]
        r = api.patch(f"/catalog/{item['id']}", json={"description": "Within 2 hours"})
        assert r.json()["description"] == "Within 2 hours"
    body = {"ticket_id": str(ticket.id), "work_date": date.today().isoformat(), "minutes": 30}
    with kit.api(tech) as api:
        r = api.post("/time-entries", json={**body, "catalog_item_id": item["id"]})
        assert r.status_code == 201, r.text
        entry = r.json()
        assert (entry["hourly_rate"], entry["catalog_item_id"], entry["amount"]) == (
            22500,
            item["id"],
            11250,
        )
        r = api.post("/time-entries", json={**body, "catalog_item_id": eur["id"]})
        assert r.status_code == 422
        assert "priced in EUR but the client is billed in USD" in r.json()["error"]["message"]
        # Technicians read the catalog but do not write it.
        assert api.get("/catalog").status_code == 200
        assert api.post("/catalog", json={"name": "Mine"}).status_code == 403
