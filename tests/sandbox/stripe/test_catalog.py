"""Products, prices, customers, accounts by key, contract checks, idempotency, pagination."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe


def test_account_and_balance(client: stripe.StripeClient) -> None:
    account = client.v1.accounts.retrieve_current()
    assert account.id.startswith("acct_")
    assert client.v1.balance.retrieve().object == "balance"


def test_keys_are_checked(stripe_sandbox: Any) -> None:
    for bad in ("pk_test_abcdefghijkl", "sk_test_short", "nonsense", "sk_prod_abcdefghijkl"):
        with pytest.raises(stripe.AuthenticationError) as info:
            stripe_sandbox.client(bad).v1.accounts.retrieve_current()
        assert info.value.http_status == 401
    r = httpx.get(stripe_sandbox.url + "/v1/products")
    assert r.status_code == 401
    assert "did not provide an API key" in r.json()["error"]["message"]


def test_livemode_follows_the_key(stripe_sandbox: Any) -> None:
    live = stripe_sandbox.client("sk_live_" + "a" * 24)
    assert live.v1.products.create(params={"name": "Live"}).livemode is True
    test = stripe_sandbox.client("sk_test_" + "b" * 24)
    assert test.v1.products.create(params={"name": "Test"}).livemode is False


def test_product_lifecycle(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(
        params={"name": "Managed endpoint", "metadata": {"sku": "ME-1"}}
    )
    assert product.id.startswith("prod_") and product.active
    price = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 1500, "currency": "usd"}
    )
    assert price.id.startswith("price_") and price.type == "one_time"
    monthly = client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 9900,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    assert monthly.type == "recurring" and monthly.recurring.interval == "month"
    updated = client.v1.products.update(
        product.id, params={"default_price": price.id, "metadata": {"sku": ""}}
    )
    assert updated.default_price == price.id and updated.metadata.to_dict() == {}
    expanded = client.v1.products.retrieve(product.id, params={"expand": ["default_price"]})
    assert expanded.default_price.unit_amount == 1500
    assert client.v1.prices.update(price.id, params={"active": False}).active is False
    active = client.v1.prices.list(params={"product": product.id, "active": True})
    assert [p.id for p in active.data] == [monthly.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.delete(product.id)  # it has prices
    empty = client.v1.products.create(params={"name": "Empty"})
    assert client.v1.products.delete(empty.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.products.retrieve(empty.id)
    assert info.value.http_status == 404 and info.value.code == "resource_missing"


def test_customers(client: stripe.StripeClient) -> None:
    a = client.v1.customers.create(params={"name": "Contoso", "email": "ap@contoso.example"})
    client.v1.customers.create(params={"name": "Other", "email": "x@y.example"})
    assert a.id.startswith("cus_")
    found = client.v1.customers.list(params={"email": "ap@contoso.example"})
    assert [c.id for c in found.data] == [a.id]
    assert client.v1.customers.update(a.id, params={"name": "Contoso Ltd"}).name == "Contoso Ltd"


def test_unknown_parameters_get_stripes_error(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.products.create(params={"name": "X", "colour": "blue"})  # type: ignore[typeddict-unknown-key]
    assert info.value.http_status == 400
    assert info.value.code == "parameter_unknown"
    assert info.value.param == "colour"
    assert str(info.value.user_message) == "Received unknown parameter: colour"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(params={"product": "prod_x", "currency": "usd"})
    assert info.value.http_status == 404 or info.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(params={"unit_amount": 5})  # type: ignore[typeddict-item]
    assert info.value.code == "parameter_missing" and info.value.param == "currency"


def test_idempotent_replay_and_conflict(
    client: stripe.StripeClient, stripe_sandbox: Any, sk: str
) -> None:
    first = client.v1.products.create(params={"name": "Once"}, options={"idempotency_key": "k-1"})
    raw = httpx.post(
        stripe_sandbox.url + "/v1/products",
        data={"name": "Once"},
        headers={"Authorization": f"Bearer {sk}", "Idempotency-Key": "k-1"},
    )
    assert raw.headers["Idempotent-Replayed"] == "true"
    assert raw.json() == first.to_dict()
    with pytest.raises(stripe.IdempotencyError):
        client.v1.products.create(params={"name": "Twice"}, options={"idempotency_key": "k-1"})
    assert len(client.v1.products.list().data) == 1


def test_accounts_never_see_each_other(stripe_sandbox: Any) -> None:
    a, b = stripe_sandbox.client(), stripe_sandbox.client()
    product = a.v1.products.create(params={"name": "Mine"})
    assert b.v1.products.list().data == []
    with pytest.raises(stripe.InvalidRequestError) as info:
        b.v1.products.retrieve(product.id)
    assert info.value.http_status == 404


def test_pagination_both_ways(client: stripe.StripeClient) -> None:
    made = [client.v1.products.create(params={"name": f"P{i}"}).id for i in range(7)]
    newest_first = list(reversed(made))
    page1 = client.v1.products.list(params={"limit": 3})
    assert [p.id for p in page1.data] == newest_first[:3] and page1.has_more
    page2 = client.v1.products.list(params={"limit": 3, "starting_after": page1.data[-1].id})
    assert [p.id for p in page2.data] == newest_first[3:6] and page2.has_more
    back = client.v1.products.list(params={"limit": 3, "ending_before": page2.data[0].id})
    assert [p.id for p in back.data] == newest_first[:3]
    every = [p.id for p in client.v1.products.list(params={"limit": 2}).auto_paging_iter()]
    assert every == newest_first
    for bad in (0, 101):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.products.list(params={"limit": bad})
        assert info.value.param == "limit"


def test_rate_limit(make_sandbox: Any) -> None:
    sandbox = make_sandbox("--rate-limit", "5")
    client = sandbox.client()
    statuses = []
    for _ in range(12):
        try:
            client.v1.products.list()
            statuses.append(200)
        except stripe.RateLimitError as exc:
            assert exc.json_body["error"]["code"] == "rate_limit"
            statuses.append(429)
    assert statuses.count(200) >= 5 and 429 in statuses


def test_250_products_with_prices_page_back_newest_first(client: stripe.StripeClient) -> None:
    made = []
    for i in range(250):
        product = client.v1.products.create(params={"name": f"Service {i}"})
        client.v1.prices.create(
            params={"product": product.id, "unit_amount": 1000 + i, "currency": "usd"}
        )
        made.append(product.id)
    seen = [p.id for p in client.v1.products.list(params={"limit": 100}).auto_paging_iter()]
    assert len(seen) == 250 and len(set(seen)) == 250
    assert seen == list(reversed(made))
    prices = list(client.v1.prices.list(params={"limit": 100}).auto_paging_iter())
    assert len({p.id for p in prices}) == 250
    assert {p.product for p in prices} == set(made)


# ---- prices: active listing, decimal amounts, tiers, currency options, metered ----------------


def test_prices_list_only_active_prices_unless_active_false(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Backup"})
    kept = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 100, "currency": "usd"}
    )
    archived = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 200, "currency": "usd", "active": False}
    )
    assert [p.id for p in client.v1.prices.list().data] == [kept.id]
    assert [p.id for p in client.v1.prices.list(params={"active": True}).data] == [kept.id]
    assert [p.id for p in client.v1.prices.list(params={"active": False}).data] == [archived.id]
    assert client.v1.prices.retrieve(archived.id).active is False  # still there by id


def test_a_fractional_unit_amount_decimal_has_no_integer_unit_amount(
    client: stripe.StripeClient,
) -> None:
    product = client.v1.products.create(params={"name": "Storage per GB"})
    fraction = client.v1.prices.create(
        params={"product": product.id, "unit_amount_decimal": "12.345", "currency": "usd"}
    )
    assert fraction.unit_amount is None
    assert str(fraction.unit_amount_decimal) == "12.345"
    whole = client.v1.prices.create(
        params={"product": product.id, "unit_amount_decimal": "1500", "currency": "usd"}
    )
    assert (whole.unit_amount, str(whole.unit_amount_decimal)) == (1500, "1500")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={
                "product": product.id,
                "unit_amount": 5,
                "unit_amount_decimal": "5",
                "currency": "usd",
            }
        )
    assert info.value.param == "unit_amount_decimal"
    assert "only specify one of" in str(info.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={
                "product": product.id,
                "unit_amount_decimal": "0.1234567890123",  # 13 places
                "currency": "usd",
            }
        )
    assert info.value.param == "unit_amount_decimal"


def test_currency_options_and_tiers_are_returned_only_when_expanded(
    client: stripe.StripeClient,
) -> None:
    product = client.v1.products.create(params={"name": "Helpdesk seat"})
    multi = client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 1000,
            "currency": "usd",
            "currency_options": {
                "eur": {"unit_amount": 900},
                "gbp": {"unit_amount_decimal": "800.5"},
            },
        }
    )
    assert "currency_options" not in multi.to_dict()
    assert "currency_options" not in client.v1.prices.retrieve(multi.id).to_dict()
    expanded = client.v1.prices.retrieve(multi.id, params={"expand": ["currency_options"]})
    options = expanded.to_dict()["currency_options"]
    assert set(options) == {"usd", "eur", "gbp"}
    assert options["eur"]["unit_amount"] == 900
    assert options["gbp"]["unit_amount"] is None
    assert str(options["gbp"]["unit_amount_decimal"]) == "800.5"
    listed = client.v1.prices.list(params={"expand": ["data.currency_options"]}).data
    assert set(listed[0].to_dict()["currency_options"]) == {"usd", "eur", "gbp"}

    tiered = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "recurring": {"interval": "month"},
            "tiers": [{"up_to": 10, "unit_amount": 500}, {"up_to": "inf", "unit_amount": 400}],
        }
    )
    assert tiered.billing_scheme == "tiered" and tiered.tiers_mode == "graduated"
    assert tiered.unit_amount is None and tiered.unit_amount_decimal is None
    assert "tiers" not in tiered.to_dict()
    with_tiers = client.v1.prices.retrieve(tiered.id, params={"expand": ["tiers"]})
    assert [(t.up_to, t.unit_amount) for t in with_tiers.tiers or []] == [(10, 500), (None, 400)]


def test_tiered_prices_need_tiers_mode_and_an_open_last_tier(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Tiered"})
    base: dict[str, Any] = {
        "product": product.id,
        "currency": "usd",
        "billing_scheme": "tiered",
        "recurring": {"interval": "month"},
    }
    bad = [
        ({"tiers": [{"up_to": "inf", "unit_amount": 1}]}, "tiers_mode"),
        ({"tiers_mode": "volume", "tiers": [{"up_to": 5, "unit_amount": 1}]}, "tiers[0][up_to]"),
        (
            {
                "tiers_mode": "volume",
                "unit_amount": 5,
                "tiers": [{"up_to": "inf", "unit_amount": 1}],
            },
            "unit_amount",
        ),
        ({"tiers_mode": "volume"}, "tiers"),
        (
            {"tiers_mode": "volume", "tiers": [{"up_to": "inf", "flat_amount_decimal": "99.5"}]},
            "tiers[0][flat_amount_decimal]",
        ),
    ]
    for extra, param in bad:
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.prices.create(params={**base, **extra})
        assert info.value.param == param, (extra, info.value.param)
    with pytest.raises(stripe.InvalidRequestError) as info:  # tiers on a per-unit price
        client.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": 5,
                "tiers": [{"up_to": "inf", "unit_amount": 1}],
            }
        )
    assert info.value.param == "tiers"


def test_currency_options_are_checked_like_the_price(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Options"})
    for options, param in (
        ({"usd": {"unit_amount": 5}}, "currency_options[usd]"),
        ({"eur": {"tax_behavior": "exclusive"}}, "currency_options[eur][unit_amount]"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.prices.create(
                params={
                    "product": product.id,
                    "currency": "usd",
                    "unit_amount": 10,
                    "currency_options": options,
                }
            )
        assert info.value.param == param


def test_metered_prices_must_be_backed_by_a_meter(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "API calls"})
    base: dict[str, Any] = {"product": product.id, "currency": "usd", "unit_amount": 2}
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={**base, "recurring": {"interval": "month", "usage_type": "metered"}}
        )
    assert info.value.param == "recurring[meter]" and info.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={
                **base,
                "recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_nope"},
            }
        )
    assert info.value.http_status == 404 and info.value.param == "recurring[meter]"
    meter = client.v1.billing.meters.create(
        params={
            "display_name": "API calls",
            "event_name": "api_call",
            "default_aggregation": {"formula": "sum"},
        }
    )
    metered = client.v1.prices.create(
        params={
            **base,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    assert metered.recurring is not None
    assert (metered.recurring.usage_type, metered.recurring.meter) == ("metered", meter.id)


def test_a_product_id_can_be_chosen_once(client: stripe.StripeClient) -> None:
    made = client.v1.products.create(params={"id": "regentra_plan_x", "name": "Plan X"})
    assert made.id == "regentra_plan_x"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.products.create(params={"id": "regentra_plan_x", "name": "Plan X again"})
    assert refused.value.code == "resource_already_exists"
    assert refused.value.param == "id"
    assert client.v1.products.retrieve("regentra_plan_x").name == "Plan X"


def test_a_lookup_key_names_one_price_and_can_be_transferred(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Seats"})
    base = {"product": product.id, "currency": "usd", "recurring": {"interval": "month"}}
    first = client.v1.prices.create(params={**base, "unit_amount": 1900, "lookup_key": "seat"})
    with pytest.raises(stripe.InvalidRequestError) as taken:
        client.v1.prices.create(params={**base, "unit_amount": 2100, "lookup_key": "seat"})
    assert taken.value.param == "lookup_key" and first.id in str(taken.value.user_message)
    other = client.v1.prices.create(params={**base, "unit_amount": 500, "lookup_key": "other"})
    found = client.v1.prices.list(params={"lookup_keys": ["seat", "other", "none"]}).data
    assert {p.id for p in found} == {first.id, other.id}

    moved = client.v1.prices.create(
        params={**base, "unit_amount": 2100, "lookup_key": "seat", "transfer_lookup_key": True}
    )
    assert client.v1.prices.retrieve(first.id).lookup_key is None
    assert [p.id for p in client.v1.prices.list(params={"lookup_keys": ["seat"]}).data] == [
        moved.id
    ]
    with pytest.raises(stripe.InvalidRequestError):  # an update takes a held key only by transfer
        client.v1.prices.update(first.id, params={"lookup_key": "other"})
    client.v1.prices.update(first.id, params={"lookup_key": "other", "transfer_lookup_key": True})
    assert client.v1.prices.retrieve(other.id).lookup_key is None
    with pytest.raises(stripe.InvalidRequestError) as too_long:
        client.v1.prices.create(params={**base, "unit_amount": 1, "lookup_key": "k" * 201})
    assert too_long.value.param == "lookup_key"
