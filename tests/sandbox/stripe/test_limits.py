"""Rate limits and expansion, as Stripe enforces them: the account-wide limit, each endpoint's
own limit beside it (answered 429 with Stripe-Rate-Limited-Reason), and `expand` at most
four levels deep. Plain SDK calls against the sandbox server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from sandbox.stripe.conftest import StripeSandbox, new_key, start_sandbox, stop_sandbox

# ---- expand depth ------------------------------------------------------------------------------


def _product_with_default_price(client: stripe.StripeClient) -> Any:
    return client.v1.products.create(
        params={
            "name": "Managed backup",
            "default_price_data": {"currency": "usd", "unit_amount": 1500},
        }
    )


def test_expand_four_levels_deep_is_allowed(client: stripe.StripeClient) -> None:
    product = _product_with_default_price(client)
    # On a list, `data` is the first of the four levels.
    (price,) = client.v1.prices.list(params={"expand": ["data.product.default_price.product"]}).data
    assert price.product.default_price.product.id == product.id
    one = client.v1.prices.retrieve(
        product.default_price, params={"expand": ["product.default_price.product.default_price"]}
    )
    assert one.product.default_price.product.default_price.id == product.default_price


def _too_deep(call: Callable[[], Any], path: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        call()
    error = refused.value
    assert error.http_status == 400 and error.code == "property_expansion_max_depth"
    assert error.user_message == (
        f"You cannot expand more than 4 levels of a property. Property: {path}"
    )


def test_expand_five_levels_deep_is_refused(client: stripe.StripeClient) -> None:
    product = _product_with_default_price(client)
    path = "data.product.default_price.product.default_price"
    _too_deep(lambda: client.v1.prices.list(params={"expand": [path]}), path)
    deep = "product.default_price.product.default_price.product"
    _too_deep(
        lambda: client.v1.prices.retrieve(product.default_price, params={"expand": [deep]}), deep
    )
    # The whole request is refused before it does anything.
    _too_deep(
        lambda: client.v1.products.create(params={"name": "Never", "expand": [deep + ".x"]}),
        deep + ".x",
    )
    assert [p.name for p in client.v1.products.list().data] == ["Managed backup"]


# ---- rate limits -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited() -> Iterator[StripeSandbox]:
    """Low limits, so a short burst meets them: 3/s per test-mode account, 2/s per endpoint
    (live-mode accounts keep Stripe's 100/s)."""
    box = start_sandbox("--rate-limit", "3", "--endpoint-rate-limit", "2")
    yield box
    stop_sandbox(box)


def _first_refusal(calls: list[Callable[[], Any]]) -> stripe.RateLimitError:
    """Make the calls in turn, round and round, until one is refused for its rate."""
    for attempt in range(60):
        try:
            calls[attempt % len(calls)]()
        except stripe.RateLimitError as exc:
            return exc
        except stripe.InvalidRequestError as exc:
            assert exc.http_status == 404  # a missing object is still a request made
    raise AssertionError("never rate-limited")


def _reason(exc: stripe.RateLimitError) -> str | None:
    return {k.lower(): v for k, v in (exc.headers or {}).items()}.get("stripe-rate-limited-reason")


def test_an_endpoint_has_its_own_limit_beside_the_account_wide_one(
    limited: StripeSandbox,
) -> None:
    client = limited.client(new_key("live"))
    # Requests for different ids count against one endpoint, GET /v1/products/{id}.
    ids = iter(f"prod_missing{n}" for n in range(100))
    refused = _first_refusal([lambda: client.v1.products.retrieve(next(ids))])
    assert refused.http_status == 429 and _reason(refused) == "endpoint-rate"
    body = refused.json_body["error"]
    assert (body["type"], body["code"]) == ("invalid_request_error", "rate_limit")
    # Meanwhile other endpoints of the same account still answer: the account-wide limit
    # (100/s in live mode) is not reached.
    assert client.v1.products.list().data == []
    assert client.v1.customers.list().data == []
    assert client.v1.invoices.list().data == []


def test_the_account_wide_limit_covers_every_endpoint(limited: StripeSandbox) -> None:
    client = limited.client(new_key("test"))
    # Alternating two endpoints stays under each one's 2/s; the account's 3/s refuses.
    refused = _first_refusal([client.v1.products.list, client.v1.customers.list])
    assert refused.http_status == 429 and _reason(refused) == "global-rate"
    assert refused.json_body["error"]["code"] == "rate_limit"
