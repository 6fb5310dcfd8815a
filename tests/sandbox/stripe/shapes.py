"""Object shapes held to the installed SDK: every field we return is one the SDK's resource
class declares, and every declared field is present, except those Stripe leaves out by default
(includable, conditional or deleted-only fields, listed here per type with the reason)."""

from __future__ import annotations

import decimal
import types
from typing import Any, ForwardRef, Literal, Union, get_args, get_origin

from stripe import StripeObject
from stripe._list_object import ListObject

# Declared by the SDK but absent from Stripe's default representation of the object.
NOT_BY_DEFAULT: dict[str, set[str]] = {
    "product": {"deleted", "tax_details"},
    "price": {"deleted", "currency_options", "tiers"},  # includable with expand[]
    "customer": {
        "deleted",
        "business_name",
        "individual_name",
        "customer_account",
        "cash_balance",  # includable
        "invoice_credit_balance",  # includable
        "sources",  # includable
        "subscriptions",  # includable
        "tax",  # includable
        "tax_ids",  # includable
    },
    "account": {"deleted", "company", "individual", "groups"},
    "balance": {"instant_available", "issuing", "refund_and_dispute_prefunding"},
    "invoice": {
        "deleted",
        "payments",  # includable with expand[]=payments
        "confirmation_secret",  # includable
        "amount_paid_off_stripe",
        "status_details",
        "threshold_reason",
    },
    "invoice_payment": set(),
    "coupon": {"deleted", "currency_options"},  # currency_options: includable
    "discount": {"deleted"},
    "payment_intent": {
        "allowed_payment_method_types",
        "hooks",
        "payment_details",
        "payment_record",
        "presentment_details",
    },
    "charge": {"authorization_code", "level3", "presentment_details", "radar_options", "transfer"},
    "balance_transaction": set(),
    "invoiceitem": {"deleted", "frozen_fields", "invoicing_rules", "proration_details"},
    "subscription": {"presentment_details", "status_details"},
    "subscription_item": {"deleted", "billed_until", "current_trial"},
    "checkout.session": {
        "allowed_payment_method_types",
        "branding_settings",
        "excluded_payment_method_types",
        "line_items",  # includable
        "name_collection",
        "optional_items",
        "presentment_details",
        "redirect_on_completion",
        "return_url",
        "tax_id_collection",
    },
    "event": {"account", "context"},
    "webhook_endpoint": {"deleted", "secret"},  # secret only in the create response
}


def declared(cls: type) -> set[str]:
    return {k for k in cls.__annotations__ if not k.startswith("_") and k != "OBJECT_NAME"}


def shape_problems(obj: dict[str, Any], cls: type) -> list[str]:
    kind = obj["object"]
    fields = declared(cls)
    problems = [
        f"{kind}.{k}: not declared by stripe.{cls.__name__}" for k in obj if k not in fields
    ]
    optional = NOT_BY_DEFAULT.get(kind, set())
    problems += [f"{kind}.{k}: missing" for k in sorted(fields - optional - set(obj))]
    return problems


def _hints(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        hints.update(getattr(klass, "__annotations__", {}))
    return {k: v for k, v in hints.items() if not k.startswith("_") and not isinstance(v, str)}


def type_problems(value: Any, hint: Any, path: str) -> list[str]:
    """Does a JSON value fit the SDK's annotation? (Recursively, for nested objects.)"""
    origin = get_origin(hint)
    if hint is Any or isinstance(hint, ForwardRef):  # expandable: an id or the object
        return [] if isinstance(value, str | dict) else [f"{path}: {value!r} is not an object"]
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if any(not type_problems(value, o, path) for o in options):
            return []
        return [f"{path}: {value!r} fits none of {hint}"]
    if hint is type(None):
        return [] if value is None else [f"{path}: expected null"]
    if origin is Literal:
        return [] if value in get_args(hint) else [f"{path}: {value!r} not in {get_args(hint)}"]
    if hint is bool:
        return [] if isinstance(value, bool) else [f"{path}: {value!r} is not a boolean"]
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not an integer"]
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not a number"]
    if hint is decimal.Decimal:
        ok = isinstance(value, str | int | float | decimal.Decimal)
        return [] if ok else [f"{path}: not a decimal"]
    if hint is str:
        return [] if isinstance(value, str) else [f"{path}: {value!r} is not a string"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        (item,) = get_args(hint)
        return [p for i, v in enumerate(value) for p in type_problems(v, item, f"{path}[{i}]")]
    if origin is dict or hint is dict:
        return [] if isinstance(value, dict) else [f"{path}: {value!r} is not a hash"]
    if isinstance(origin, type) and issubclass(origin, ListObject):
        ok = isinstance(value, dict) and value.get("object") == "list"
        return [] if ok else [f"{path}: not a list object"]
    base = origin if isinstance(origin, type) else hint
    if isinstance(base, type) and issubclass(base, StripeObject):
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        if origin is not None:  # UntypedStripeObject[str] and the like
            return []
        fields = _hints(base)
        problems = [f"{path}.{k}: not declared" for k in value if k not in fields]
        for key, item in value.items():
            if key in fields:
                problems += type_problems(item, fields[key], f"{path}.{key}")
        return problems
    return []


def assert_shape(obj: Any, cls: type) -> None:
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    problems = shape_problems(data, cls)
    fields = _hints(cls)
    for key, value in data.items():
        if key in fields:
            problems += type_problems(value, fields[key], f"{data['object']}.{key}")
    assert not problems, problems
