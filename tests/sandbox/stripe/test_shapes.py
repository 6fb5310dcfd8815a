"""Objects the sandbox returns have the SDK's fields (see shapes.py)."""

from __future__ import annotations

import stripe

from sandbox.stripe.shapes import assert_shape, shape_problems, type_problems


def test_catalog_and_customer_shapes(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Shape"})
    assert_shape(product, stripe.Product)
    price = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 100, "currency": "usd"}
    )
    assert_shape(price, stripe.Price)
    assert_shape(client.v1.customers.create(params={"email": "s@x.example"}), stripe.Customer)
    assert_shape(client.v1.accounts.retrieve_current(), stripe.Account)
    assert_shape(client.v1.balance.retrieve(), stripe.Balance)


def test_the_shape_check_can_fail(client: stripe.StripeClient) -> None:
    good = client.v1.products.create(params={"name": "Shape"}).to_dict()
    assert not shape_problems(good, stripe.Product)
    bad = {**good, "created": "yesterday", "colour": "blue"}
    del bad["url"]
    problems = shape_problems(bad, stripe.Product)
    assert "product.colour: not declared by stripe.Product" in problems
    assert "product.url: missing" in problems
    fields = stripe.Product.__annotations__
    assert type_problems("yesterday", fields["created"], "product.created")
    assert type_problems({"height": "tall"}, fields["package_dimensions"], "p.pd")
