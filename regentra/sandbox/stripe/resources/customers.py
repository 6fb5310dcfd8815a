"""Customers."""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.resources import balances, payment_methods
from regentra.sandbox.stripe.resources._util import apply, merge_metadata
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import random_token

router = Router()

FIELDS = ("name", "email", "description", "phone", "preferred_locales")


@router.route("POST", "/v1/customers", "CustomerCreateParams")
def create_customer(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    customer = ctx.add(
        {
            "object": "customer",
            "address": p.get("address"),
            "balance": p.get("balance", 0),
            "created": ctx.now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": p.get("description"),
            "discount": None,
            "email": p.get("email"),
            "invoice_prefix": random_token(8).upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "metadata": merge_metadata({}, p.get("metadata", {})),
            "name": p.get("name"),
            "next_invoice_sequence": 1,
            "phone": p.get("phone"),
            "preferred_locales": p.get("preferred_locales", []),
            "shipping": None,
            "tax_exempt": p.get("tax_exempt", "none"),
            "test_clock": None,
        }
    )
    ctx.emit("customer.created", customer)
    return customer


@router.route("GET", "/v1/customers/{id}", "CustomerRetrieveParams")
def retrieve_customer(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("customer", ctx.path["id"])


@router.route("POST", "/v1/customers/{id}", "CustomerUpdateParams")
def update_customer(ctx: Ctx) -> dict[str, Any]:
    customer = ctx.get("customer", ctx.path["id"])
    previous = apply(customer, ctx.params, FIELDS)
    settings = ctx.params.get("invoice_settings") or {}
    if "default_payment_method" in settings:
        wanted = settings["default_payment_method"] or None  # "" unsets it
        param = "invoice_settings[default_payment_method]"
        if wanted is not None:
            wanted = payment_methods.resolve_attached(
                ctx.sandbox, ctx.account, customer, wanted, param
            )
        held = customer.setdefault("invoice_settings", {})
        before = held.get("default_payment_method")
        if before != wanted:
            previous["invoice_settings"] = {"default_payment_method": before}
            held["default_payment_method"] = wanted
    if previous:
        ctx.emit("customer.updated", customer, previous)
    if "balance" in ctx.params:  # an adjustment balance transaction
        balances.set_balance(ctx.sandbox, ctx.account, customer, ctx.params["balance"])
    return customer


@router.route("GET", "/v1/customers", "CustomerListParams")
def list_customers(ctx: Ctx) -> dict[str, Any]:
    items = ctx.sandbox.all(ctx.account, "customer")
    if "email" in ctx.params:
        items = [c for c in items if c.get("email") == ctx.params["email"]]
    return listing.page(items, ctx.params, "/v1/customers", kind="customer")
