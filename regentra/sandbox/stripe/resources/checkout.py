"""Checkout Sessions (`mode=subscription`): create, retrieve, list, line items, expire, and
their completion by the hosted page (`hosted_checkout.py`).

A session's `url` is `<sandbox>/c/pay/<session id>`; the page finds the session by its id
(which, as on Stripe, is long and random) without the secret key. Completing it with a test
card creates the customer if needed, a card PaymentMethod as the customer's (and the
subscription's) default, and the subscription with its first invoice paid.
"""

from __future__ import annotations

import copy
from typing import Any

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError, missing_parameter
from regentra.sandbox.stripe.resources import (
    customers,
    payment_methods,
    subscription_items,
    subscription_lifecycle,
)
from regentra.sandbox.stripe.resources._util import merge_metadata, not_emulated
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

router = Router()

KIND = "checkout.session"
DAY = 86400
# Test cards the hosted page knows: number → (outcome, brand). Others are "incorrect".
TEST_CARDS = {
    "4242424242424242": ("succeeded", "visa"),
    "5555555555554444": ("succeeded", "mastercard"),
    "4000000000000002": ("card_declined", "visa"),
    "4000000000009995": ("insufficient_funds", "visa"),
}
DECLINE_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}
# Sub-features that change the flow and that the sandbox does not emulate.
_UNSUPPORTED = (
    "custom_fields",
    "customer_account",
    "discounts",
    "optional_items",
    "payment_intent_data",
    "payment_method_data",
    "setup_intent_data",
    "shipping_address_collection",
    "shipping_options",
)
_UNSUPPORTED_SUBSCRIPTION_DATA = ("billing_cycle_anchor", "trial_end", "trial_period_days")


def _line_items_key(session_id: str) -> str:
    return f"{session_id}/line_items"


def line_items(account: Account, session: dict[str, Any]) -> dict[str, Any]:
    """The session's line items (Stripe's `item` objects) as a list object."""
    stored = account.objects.get(_line_items_key(session["id"]))
    data = copy.deepcopy(stored["data"]) if stored else []
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "url": f"/v1/checkout/sessions/{session['id']}/line_items",
    }


def find_session(sandbox: Sandbox, session_id: str) -> tuple[Account, dict[str, Any]] | None:
    """The session with this id, in whichever account holds it (for the hosted page)."""
    if not session_id.startswith("cs_"):
        return None
    for account in list(sandbox.accounts.values()):
        session = sandbox.find(account, KIND, session_id)
        if session is not None:
            return account, session
    return None


# ---- create ---------------------------------------------------------------------------------
@router.route("POST", "/v1/checkout/sessions", "CheckoutSessionCreateParams")
def create_session(ctx: Ctx) -> dict[str, Any]:
    sandbox, account, p = ctx.sandbox, ctx.account, ctx.params
    not_emulated(p, _UNSUPPORTED, "Checkout Sessions")
    if "mode" not in p:
        raise missing_parameter("mode")
    if p["mode"] != "subscription":
        raise StripeError(
            "The Stripe sandbox emulates Checkout Sessions in `subscription` mode only.",
            param="mode",
        )
    ui_mode = p.get("ui_mode", "hosted_page")
    if ui_mode != "hosted_page":
        raise StripeError(
            "The Stripe sandbox emulates the hosted Checkout page only (`ui_mode=hosted_page`).",
            param="ui_mode",
        )
    if "return_url" in p or "redirect_on_completion" in p:
        name = "return_url" if "return_url" in p else "redirect_on_completion"
        raise StripeError(
            f"`{name}` is only allowed with an embedded or custom UI mode.", param=name
        )
    data = p.get("subscription_data") or {}
    for name in _UNSUPPORTED_SUBSCRIPTION_DATA:
        if name in data:
            raise StripeError(
                f"The Stripe sandbox does not emulate `subscription_data[{name}]`.",
                param=f"subscription_data[{name}]",
            )
    specs = p.get("line_items") or []
    if not specs:
        raise missing_parameter("line_items")
    prices = [
        subscription_items.recurring_price(sandbox, account, s, f"line_items[{i}]")
        for i, s in enumerate(specs)
    ]
    quantities = [
        subscription_items.item_quantity(s, f"line_items[{i}]") for i, s in enumerate(specs)
    ]
    subscription_items.check_compatible(prices, "line_items")
    if p.get("customer") and p.get("customer_email"):
        raise StripeError(
            "You may only specify one of these parameters: customer, customer_email.",
            param="customer_email",
        )
    customer = ctx.get("customer", p["customer"], "customer") if p.get("customer") else None
    now = ctx.now()
    expires_at = p.get("expires_at", now + DAY)
    if not now + 1800 <= expires_at <= now + DAY:
        raise StripeError(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
            "Checkout Session creation.",
            param="expires_at",
        )
    currency = prices[0]["currency"]
    if p.get("currency") and p["currency"].lower() != currency:
        raise StripeError("The currency must match the prices' currency.", param="currency")
    session_id = f"cs_{'live' if account.livemode else 'test'}_a1{random_token(56)}"
    items = []
    for price, quantity, spec in zip(prices, quantities, specs, strict=True):
        product = sandbox.find(account, "product", price["product"]) or {}
        amount = (price["unit_amount"] or 0) * quantity
        items.append(
            {
                "id": "li_" + random_token(),
                "object": "item",
                "adjustable_quantity": None,
                "amount_discount": 0,
                "amount_subtotal": amount,
                "amount_tax": 0,
                "amount_total": amount,
                "currency": currency,
                "description": product.get("name"),
                "discounts": [],
                "metadata": merge_metadata({}, spec.get("metadata", {})),
                "price": copy.deepcopy(price),
                "quantity": quantity,
                "taxes": [],
            }
        )
    total = sum(i["amount_total"] for i in items)
    email = p.get("customer_email") or (customer or {}).get("email")
    session = ctx.add(
        {
            "id": session_id,
            "object": KIND,
            "adaptive_pricing": {"enabled": False},
            "after_expiration": None,
            "allow_promotion_codes": p.get("allow_promotion_codes"),
            "allowed_payment_method_types": None,
            "amount_subtotal": total,
            "amount_total": total,
            "automatic_tax": {
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "billing_address_collection": p.get("billing_address_collection"),
            "branding_settings": None,
            "cancel_url": p.get("cancel_url"),
            "client_reference_id": p.get("client_reference_id"),
            "client_secret": None,
            "collected_information": None,
            "consent": None,
            "consent_collection": None,
            "created": now,
            "currency": currency,
            "currency_conversion": None,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": customer["id"] if customer else None,
            "customer_account": None,
            "customer_creation": None if customer else "always",
            "customer_details": _details(email, None) if email else None,
            "customer_email": p.get("customer_email"),
            "discounts": [],
            "excluded_payment_method_types": None,
            "expires_at": expires_at,
            "integration_identifier": p.get("integration_identifier"),
            "invoice": None,
            "invoice_creation": None,
            "livemode": account.livemode,
            "locale": p.get("locale"),
            "managed_payments": None,
            "metadata": merge_metadata({}, p.get("metadata", {})),
            "mode": "subscription",
            "name_collection": None,
            "optional_items": None,
            "origin_context": p.get("origin_context"),
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": p.get("payment_method_collection", "always"),
            "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "permissions": None,
            "phone_number_collection": {"enabled": False},
            "presentment_details": None,
            "recovered_from": None,
            "redirect_on_completion": None,
            "return_url": None,
            "saved_payment_method_options": {
                "allow_redisplay_filters": ["always"],
                "payment_method_remove": "disabled",
                "payment_method_save": None,
            },
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": p.get("submit_type"),
            "subscription": None,
            "success_url": p.get("success_url"),
            "tax_id_collection": {"enabled": False, "required": "never"},
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": ui_mode,
            "url": f"{ctx.base_url}/c/pay/{session_id}",
            "wallet_options": None,
        }
    )
    # The line items, and what completing the session creates, kept out of the session's
    # public shape (`line_items` is includable), under an internal (non-Stripe) object.
    key = _line_items_key(session_id)
    account.objects[key] = {
        "id": key,
        "object": "sandbox.checkout_session_items",
        "data": items,
        "subscription_data": {
            "description": data.get("description"),
            "metadata": merge_metadata({}, data.get("metadata", {})),
        },
    }
    return session


def _details(email: str | None, name: str | None) -> dict[str, Any]:
    return {
        "address": None,
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


@router.route("GET", "/v1/checkout/sessions/{id}", "CheckoutSessionRetrieveParams")
def retrieve_session(ctx: Ctx) -> dict[str, Any]:
    return ctx.get(KIND, ctx.path["id"])


@router.route("GET", "/v1/checkout/sessions", "CheckoutSessionListParams")
def list_sessions(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    items = ctx.sandbox.all(ctx.account, KIND)
    for name in ("customer", "status", "subscription", "payment_intent", "payment_link"):
        if name in p:
            items = [s for s in items if s[name] == p[name]]
    email = (p.get("customer_details") or {}).get("email")
    if email:
        items = [s for s in items if (s["customer_details"] or {}).get("email") == email]
    return listing.page(items, p, "/v1/checkout/sessions", kind=KIND)


@router.route("GET", "/v1/checkout/sessions/{id}/line_items", "CheckoutSessionListLineItemsParams")
def list_line_items(ctx: Ctx) -> dict[str, Any]:
    session = ctx.get(KIND, ctx.path["id"])
    items = line_items(ctx.account, session)["data"]
    url = f"/v1/checkout/sessions/{session['id']}/line_items"
    return listing.page(items, ctx.params, url, kind="line_item")


def expire(sandbox: Sandbox, account: Account, session: dict[str, Any]) -> None:
    session.update(status="expired", url=None)
    sandbox.emit(account, "checkout.session.expired", session, {"status": "open"})


@router.route("POST", "/v1/checkout/sessions/{id}/expire", "CheckoutSessionExpireParams")
def expire_session(ctx: Ctx) -> dict[str, Any]:
    session = ctx.get(KIND, ctx.path["id"])
    if session["status"] != "open":
        raise StripeError(
            'Only Checkout Sessions with a status in ["open"] can be expired.',
            param="session",
        )
    expire(ctx.sandbox, ctx.account, session)
    return session


def _on_clock(sandbox: Sandbox) -> None:
    now = sandbox.now()
    for account in list(sandbox.accounts.values()):
        for session in sandbox.all(account, KIND):
            if session["status"] == "open" and session["expires_at"] <= now:
                expire(sandbox, account, session)


def install(sandbox: Sandbox) -> None:
    sandbox.clock_hooks.append(_on_clock)
    sandbox.includables.setdefault(KIND, {})["line_items"] = line_items


# ---- completion (the hosted page) -----------------------------------------------------------
def _luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def test_card(card_number: str) -> tuple[str, str] | str:
    """A card number typed on a hosted page: (the digits, the brand) of a test card that
    succeeds, or the message the page shows (invalid, not a test card, declined)."""
    number = "".join(ch for ch in card_number if not ch.isspace() and ch != "-")
    if not number.isdigit() or not 13 <= len(number) <= 19 or not _luhn(number):
        return "Your card number is invalid."
    if number not in TEST_CARDS:
        return (
            "Your card was declined. Your request was in test mode, but used a non test card. "
            "For a list of valid test cards, visit: https://stripe.com/docs/testing."
        )
    outcome, brand = TEST_CARDS[number]
    if outcome != "succeeded":
        return DECLINE_MESSAGES[outcome]
    return number, brand


def complete(
    sandbox: Sandbox,
    account: Account,
    session: dict[str, Any],
    *,
    card_number: str,
    exp_month: int,
    exp_year: int,
    name: str | None,
    email: str | None,
) -> str | None:
    """Pay the session with a test card. Returns an error message for the page, or None
    when the session is complete."""
    if session["status"] != "open":
        return "This Checkout Session is no longer open."
    card = test_card(card_number)
    if isinstance(card, str):
        return card
    number, brand = card
    email = session["customer_email"] or email
    customer = sandbox.find(account, "customer", session["customer"] or "")
    if customer is None and not email:
        return "Enter your email address."
    stored = account.objects.get(_line_items_key(session["id"])) or {"data": []}
    try:  # the prices may have been archived since the session was created
        for n, line in enumerate(stored["data"]):
            spec = {"price": line["price"]["id"]}
            subscription_items.recurring_price(sandbox, account, spec, f"line_items[{n}]")
    except StripeError as exc:
        return exc.message
    if customer is None:
        fields = {"email": email, "name": name} if name else {"email": email}
        customer = customers.create_customer(Ctx(sandbox, account, fields, {}, sandbox.base_url))
    pm = payment_methods.new_card(
        sandbox,
        account,
        customer,
        last4=number[-4:],
        brand=brand,
        exp_month=exp_month,
        exp_year=exp_year,
        name=name,
        email=email or customer.get("email"),
    )
    payment_methods.set_default_payment_method(sandbox, account, customer, pm)
    data = stored.get("subscription_data") or {}
    params: dict[str, Any] = {
        "customer": customer["id"],
        "items": [{"price": i["price"]["id"], "quantity": i["quantity"]} for i in stored["data"]],
        "default_payment_method": pm["id"],
        "metadata": data.get("metadata") or {},
    }
    if data.get("description"):
        params["description"] = data["description"]
    try:
        sub = subscription_lifecycle.create_subscription(sandbox, account, params)
    except StripeError as exc:
        return exc.message
    if sub["status"] != "active":
        return DECLINE_MESSAGES["card_declined"]
    session.update(
        status="complete",
        payment_status="paid",
        customer=customer["id"],
        customer_details=_details(email or customer.get("email"), name or customer.get("name")),
        collected_information={
            "business_name": None,
            "individual_name": None,
            "shipping_details": None,
        },
        subscription=sub["id"],
        invoice=sub["latest_invoice"],
        url=None,
    )
    sandbox.emit(account, "checkout.session.completed", session)
    return None
