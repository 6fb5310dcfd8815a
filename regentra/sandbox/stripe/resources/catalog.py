"""Products and Prices."""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources import price_terms
from regentra.sandbox.stripe.resources._util import apply, currency, merge_metadata
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Sandbox

router = Router()
# Billing meters (what a metered price needs) share this module's router.
router.routes.extend(price_terms.router.routes)

PRODUCT_FIELDS = ("name", "description", "active", "unit_label", "url", "statement_descriptor")


@router.route("POST", "/v1/products", "ProductCreateParams")
def create_product(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    if not p["name"].strip():
        raise StripeError("Name cannot be blank.", param="name")
    if p.get("id") and ctx.sandbox.find(ctx.account, "product", p["id"]) is not None:
        # "the ID must be unique across all products in your Stripe account"
        raise StripeError("Product already exists.", code="resource_already_exists", param="id")
    now = ctx.now()
    product = ctx.add(
        {
            "id": p.get("id") or ctx.sandbox.new_id("product"),
            "object": "product",
            "active": p.get("active", True),
            "created": now,
            "default_price": None,
            "description": p.get("description"),
            "images": p.get("images", []),
            "marketing_features": p.get("marketing_features", []),
            "metadata": merge_metadata({}, p.get("metadata", {})),
            "name": p["name"],
            "package_dimensions": None,
            "shippable": p.get("shippable"),
            "statement_descriptor": p.get("statement_descriptor"),
            "tax_code": p.get("tax_code"),
            "unit_label": p.get("unit_label"),
            "updated": now,
            "url": p.get("url"),
            "type": "service",
        }
    )
    ctx.emit("product.created", product)
    if "default_price_data" in p:
        price = _new_price(ctx, {**p["default_price_data"], "product": product["id"]})
        product["default_price"] = price["id"]
    return product


@router.route("GET", "/v1/products/{id}", "ProductRetrieveParams")
def retrieve_product(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("product", ctx.path["id"])


@router.route("POST", "/v1/products/{id}", "ProductUpdateParams")
def update_product(ctx: Ctx) -> dict[str, Any]:
    product = ctx.get("product", ctx.path["id"])
    if ctx.params.get("default_price"):
        price = ctx.get("price", ctx.params["default_price"], "default_price")
        if price["product"] != product["id"]:
            raise StripeError("The price must belong to this product.", param="default_price")
    previous = apply(product, ctx.params, (*PRODUCT_FIELDS, "default_price"))
    if previous:
        product["updated"] = ctx.now()
        ctx.emit("product.updated", product, previous)
    return product


@router.route("DELETE", "/v1/products/{id}", "ProductDeleteParams")
def delete_product(ctx: Ctx) -> dict[str, Any]:
    product = ctx.get("product", ctx.path["id"])
    if any(p["product"] == product["id"] for p in ctx.sandbox.all(ctx.account, "price")):
        raise StripeError(
            "This product cannot be deleted because it has one or more user-created prices.",
            param="id",
        )
    ctx.sandbox.remove(ctx.account, product["id"])
    ctx.emit("product.deleted", product)
    return {"id": product["id"], "object": "product", "deleted": True}


@router.route("GET", "/v1/products", "ProductListParams")
def list_products(ctx: Ctx) -> dict[str, Any]:
    items = ctx.sandbox.all(ctx.account, "product")
    if "active" in ctx.params:
        items = [p for p in items if p["active"] == ctx.params["active"]]
    if "ids" in ctx.params:
        items = [p for p in items if p["id"] in ctx.params["ids"]]
    return listing.page(items, ctx.params, "/v1/products", kind="product")


def _new_price(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    product_id = p.get("product")
    if not product_id and "product_data" in p:
        product = ctx.add(
            {
                "object": "product",
                "active": True,
                "created": ctx.now(),
                "default_price": None,
                "description": None,
                "images": [],
                "marketing_features": [],
                "metadata": merge_metadata({}, p["product_data"].get("metadata", {})),
                "name": p["product_data"]["name"],
                "package_dimensions": None,
                "shippable": None,
                "statement_descriptor": None,
                "tax_code": None,
                "unit_label": None,
                "updated": ctx.now(),
                "url": None,
                "type": "service",
            }
        )
        ctx.emit("product.created", product)
        product_id = product["id"]
    if not product_id:
        raise StripeError(
            "Missing required param: product.", code="parameter_missing", param="product"
        )
    ctx.get("product", product_id, "product")
    _claim_lookup_key(ctx, p.get("lookup_key"), transfer=p.get("transfer_lookup_key", False))
    charge, extras = price_terms.terms(ctx, p)
    recurring = None
    if "recurring" in p:
        r = p["recurring"]
        recurring = {
            "interval": r["interval"],
            "interval_count": r.get("interval_count", 1),
            "meter": r.get("meter"),
            "usage_type": r.get("usage_type", "licensed"),
            "trial_period_days": r.get("trial_period_days"),
        }
    price = ctx.add(
        {
            "object": "price",
            "active": p.get("active", True),
            "billing_scheme": charge["billing_scheme"],
            "created": ctx.now(),
            "currency": currency(p["currency"]),
            "custom_unit_amount": charge["custom_unit_amount"],
            "lookup_key": p.get("lookup_key"),
            "metadata": merge_metadata({}, p.get("metadata", {})),
            "nickname": p.get("nickname"),
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": p.get("tax_behavior", "unspecified"),
            "tiers_mode": charge["tiers_mode"],
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": charge["unit_amount"],
            "unit_amount_decimal": charge["unit_amount_decimal"],
        }
    )
    price_terms.keep_aside(ctx.account, price["id"], extras)
    ctx.emit("price.created", price)
    return price


LOOKUP_KEY_MAX = 200


def _claim_lookup_key(
    ctx: Ctx, key: str | None, *, transfer: bool, keep: str | None = None
) -> None:
    """A lookup key names one price of the account: one held by another price is refused,
    unless `transfer_lookup_key` moves it (that price loses it, `price.updated`)."""
    if key is None:
        return
    if len(key) > LOOKUP_KEY_MAX:
        raise StripeError(
            f"Invalid string: {key[:20]}...; must be at most {LOOKUP_KEY_MAX} characters",
            param="lookup_key",
        )
    for other in ctx.sandbox.all(ctx.account, "price"):
        if other["id"] == keep or other.get("lookup_key") != key:
            continue
        if not transfer:
            raise StripeError(
                f"A price (`{other['id']}`) already uses that lookup key.", param="lookup_key"
            )
        other["lookup_key"] = None
        ctx.emit("price.updated", other, {"lookup_key": key})


@router.route("POST", "/v1/prices", "PriceCreateParams")
def create_price(ctx: Ctx) -> dict[str, Any]:
    return _new_price(ctx, ctx.params)


def install(sandbox: Sandbox) -> None:
    price_terms.install(sandbox)


@router.route("GET", "/v1/prices/{id}", "PriceRetrieveParams")
def retrieve_price(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("price", ctx.path["id"])


@router.route("POST", "/v1/prices/{id}", "PriceUpdateParams")
def update_price(ctx: Ctx) -> dict[str, Any]:
    price = ctx.get("price", ctx.path["id"])
    if ctx.params.get("lookup_key"):
        _claim_lookup_key(
            ctx,
            ctx.params["lookup_key"],
            transfer=ctx.params.get("transfer_lookup_key", False),
            keep=price["id"],
        )
    previous = apply(price, ctx.params, ("active", "nickname", "lookup_key", "tax_behavior"))
    if previous:
        ctx.emit("price.updated", price, previous)
    return price


@router.route("GET", "/v1/prices", "PriceListParams")
def list_prices(ctx: Ctx) -> dict[str, Any]:
    items = ctx.sandbox.all(ctx.account, "price")
    p = ctx.params
    if "product" in p:
        items = [i for i in items if i["product"] == p["product"]]
    # "Returns a list of your active prices ... For the list of inactive prices, set active to
    # false": without `active`, only active prices.
    items = [i for i in items if i["active"] == p.get("active", True)]
    if "type" in p:
        items = [i for i in items if i["type"] == p["type"]]
    if "currency" in p:
        items = [i for i in items if i["currency"] == p["currency"].lower()]
    if "lookup_keys" in p:
        items = [i for i in items if i.get("lookup_key") in p["lookup_keys"]]
    return listing.page(items, p, "/v1/prices", kind="price")
