"""Catalog sync of the prices Stripe has beyond one whole amount in one currency: archived
prices, currency_options, tiered, metered, custom-amount and fractional prices; and what such
items can do on an invoice line. Through the API, in-process (`stripe_app`), the sync run by
`run_tasks` as the consumer would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import stripe
from sandbox.stripe.conftest import new_key

from integrations.conftest import StripeApp


def _seed(client: stripe.StripeClient) -> dict[str, str]:
    """One price of each kind on the account of `client`; returns their ids by kind."""
    product = client.v1.products.create(params={"name": "Managed endpoint"})
    usage = client.v1.products.create(params={"name": "Cloud storage"})
    meter = client.v1.billing.meters.create(
        params={
            "display_name": "Storage GB",
            "event_name": "storage_gb",
            "default_aggregation": {"formula": "sum"},
        }
    )
    made = {
        "multi": client.v1.prices.create(
            params={
                "product": product.id,
                "unit_amount": 1000,
                "currency": "usd",
                "nickname": "Standard",
                "currency_options": {
                    "eur": {"unit_amount": 900},
                    "gbp": {"unit_amount_decimal": "800.5"},
                },
            }
        ),
        "archived": client.v1.prices.create(
            params={
                "product": product.id,
                "unit_amount": 500,
                "currency": "usd",
                "nickname": "Old",
                "active": False,
            }
        ),
        "tiered": client.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "nickname": "Volume",
                "billing_scheme": "tiered",
                "tiers_mode": "volume",
                "recurring": {"interval": "month"},
                "tiers": [
                    {"up_to": 10, "unit_amount": 700},
                    {"up_to": "inf", "unit_amount": 600},
                ],
            }
        ),
        "metered": client.v1.prices.create(
            params={
                "product": usage.id,
                "currency": "usd",
                "unit_amount": 3,
                "nickname": "Per GB",
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            }
        ),
        "fraction": client.v1.prices.create(
            params={
                "product": usage.id,
                "currency": "usd",
                "unit_amount_decimal": "12.345",
                "nickname": "Per GB once",
            }
        ),
        "custom": client.v1.prices.create(
            params={
                "product": usage.id,
                "currency": "usd",
                "nickname": "Pay what you want",
                "custom_unit_amount": {"enabled": True},
            }
        ),
    }
    return {kind: str(price.id) for kind, price in made.items()}


def _connect(api: httpx.Client, key: str) -> None:
    r = api.put(
        "/integrations/stripe", json={"publishable_key": "pk_test_" + key[8:], "secret_key": key}
    )
    assert r.status_code == 200, r.text


def _everything(api: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200}  # no `active`: active and inactive alike
        if cursor:
            params["cursor"] = cursor
        body = api.get("/catalog", params=params).raise_for_status().json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


def _synced_org(stripe_app: StripeApp, run_tasks: Callable[..., list[str]]) -> tuple[Any, dict]:
    _server, box = stripe_app
    key = new_key()
    prices = _seed(box.client(key))
    kit = stripe_app.make_org()
    with kit.api() as api:
        _connect(api, key)  # the first Save queues a sync
    assert "stripe.catalog_sync" in run_tasks()
    return kit, prices


def test_archived_and_multi_currency_prices_sync_and_a_second_sync_changes_nothing(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    kit, prices = _synced_org(stripe_app, run_tasks)
    with kit.api() as api:
        items = _everything(api)
        by_price: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            by_price.setdefault(item["stripe_price_id"], []).append(item)
        assert set(by_price) == set(prices.values())

        # currency_options: one catalog item per currency, the same Stripe price.
        multi = {i["currency"]: i for i in by_price[prices["multi"]]}
        assert set(multi) == {"USD", "EUR", "GBP"}
        assert (multi["USD"]["unit_amount"], multi["EUR"]["unit_amount"]) == (1000, 900)
        assert multi["GBP"]["unit_amount"] is None
        assert multi["GBP"]["unit_amount_decimal"] == "800.5"
        assert {i["name"] for i in multi.values()} == {"Managed endpoint (Standard)"}
        assert all(i["active"] and i["pricing"] == "per_unit" for i in multi.values())
        assert multi["USD"]["fixed_price"] and multi["EUR"]["fixed_price"]
        assert not multi["GBP"]["fixed_price"]

        # Archived before the first sync: imported all the same, as inactive.
        [archived] = by_price[prices["archived"]]
        assert (archived["active"], archived["unit_amount"], archived["currency"]) == (
            False,
            500,
            "USD",
        )

        # Kept, but not usable for a fixed line, and they say why.
        [tiered] = by_price[prices["tiered"]]
        assert (tiered["pricing"], tiered["unit_amount"], tiered["fixed_price"]) == (
            "tiered",
            None,
            False,
        )
        assert "tiered" in tiered["not_fixed_price_reason"]
        [metered] = by_price[prices["metered"]]
        assert (metered["pricing"], metered["unit_amount"], metered["fixed_price"]) == (
            "metered",
            3,
            False,
        )
        [custom] = by_price[prices["custom"]]
        assert (custom["pricing"], custom["fixed_price"]) == ("custom_amount", False)

        # A fraction of a cent is kept exactly, beside a null integer amount.
        [fraction] = by_price[prices["fraction"]]
        assert (fraction["unit_amount"], fraction["unit_amount_decimal"]) == (None, "12.345")
        assert fraction["pricing"] == "per_unit" and not fraction["fixed_price"]
        assert "fraction" in fraction["not_fixed_price_reason"]

        # The sync counted every item it wrote.
        sync = api.post("/catalog/sync")
        assert sync.status_code == 202, sync.text
        assert "stripe.catalog_sync" in run_tasks()
        done = api.get(f"/catalog/sync/{sync.json()['id']}").json()
        assert (done["status"], done["seen"]) == ("succeeded", len(items))
        # A second sync changed nothing: same rows, same values, same updated_at.
        assert sorted(_everything(api), key=lambda i: i["id"]) == sorted(
            items, key=lambda i: i["id"]
        )


def test_items_that_are_not_a_fixed_price_are_refused_as_invoice_lines(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    kit, prices = _synced_org(stripe_app, run_tasks)
    client = kit.client(hourly_rate=12000, currency="USD")
    ticket = kit.ticket(client)
    tech, approver = kit.add_user("technician"), kit.add_user("approver")
    kit.entry(tech, ticket=ticket, minutes=60, status="approved", approver=approver)
    with kit.api() as api:
        items = _everything(api)
        invoice = api.post("/invoices", json={"client_id": str(client.id)})
        assert invoice.status_code == 201, invoice.text
        lines = f"/invoices/{invoice.json()['id']}/lines"

        def item(kind: str, currency: str = "USD") -> str:
            return next(
                i["id"]
                for i in items
                if i["stripe_price_id"] == prices[kind] and i["currency"] == currency
            )

        for kind in ("tiered", "metered", "custom", "fraction"):
            r = api.post(lines, json={"catalog_item_id": item(kind), "quantity": 3})
            assert r.status_code == 422, (kind, r.text)
            error = r.json()["error"]
            assert error["code"] == "item_not_fixed_price", (kind, error)
            assert "cannot be a fixed line" in error["message"]
        # The refusals wrote nothing: the invoice still has its one time line.
        assert len(api.get(f"/invoices/{invoice.json()['id']}").json()["lines"]) == 1
        # A per-unit price in the invoice's currency is a line; its EUR option is not.
        r = api.post(lines, json={"catalog_item_id": item("multi"), "quantity": 3})
        assert r.status_code == 201, r.text
        added = r.json()["lines"][-1]
        assert (added["unit_amount"], added["amount"]) == (1000, 3000)
        r = api.post(lines, json={"catalog_item_id": item("multi", "EUR")})
        assert r.status_code == 422 and r.json()["error"]["code"] == "item_currency"
    # Nor can they be an hourly rate; a whole per-unit one-time price can.
    body = {"ticket_id": str(ticket.id), "work_date": date.today().isoformat(), "minutes": 30}
    with kit.api(tech) as api:
        for kind in ("fraction", "custom"):
            r = api.post("/time-entries", json={**body, "catalog_item_id": item(kind)})
            assert r.status_code == 422, (kind, r.text)
            assert r.json()["error"]["code"] == "item_not_fixed_price"
        r = api.post("/time-entries", json={**body, "catalog_item_id": item("multi")})
        assert r.status_code == 201 and r.json()["hourly_rate"] == 1000, r.text


def test_the_catalog_page_marks_items_that_cannot_be_fixed_lines(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    from web.pages import PageClient

    kit, prices = _synced_org(stripe_app, run_tasks)
    server, _box = stripe_app
    with PageClient(server) as page:
        page.login(kit.admin.email)
        html = page.get("/catalog", params={"active": "all"}).text
    rows = {
        price_id: html[html.index(f'data-stripe-price="{price_id}"') :].split("</tr>", 1)[0]
        for price_id in prices.values()
    }
    assert "not for fixed lines (tiered)" in rows[prices["tiered"]]
    assert "not for fixed lines (metered)" in rows[prices["metered"]]
    assert "12.345 USD minor units" in rows[prices["fraction"]]
    assert "not for fixed lines (fraction of a minor unit)" in rows[prices["fraction"]]
    assert "data-not-fixed" not in rows[prices["archived"]]
