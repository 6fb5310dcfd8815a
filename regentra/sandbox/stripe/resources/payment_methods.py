"""The test payment methods the sandbox pays with, and what a charge records of them:
a Visa ending 4242 (succeeds) or 0002 (declined), and a US bank account (ACH).

Two kinds are stored: the unattached one-off methods a client pays an invoice with
(`create`), and cards attached to a customer (`new_card`: the hosted checkout page, and
Stripe's test tokens such as `pm_card_visa` given as a `default_payment_method`). A customer's
or subscription's default is a stored, attached method (`resolve_attached`, `default_of`).
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

from regentra.sandbox.stripe.errors import StripeError, missing
from regentra.sandbox.stripe.resources.fees import INTERNATIONAL_CARDS
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

# How a payment behaves in the sandbox: succeeds, is declined, or is an ACH debit.
Method = Literal["card", "card_declined", "ach"]

DECLINE = "Your card was declined."
ACH_FAILURE = "The customer's account has insufficient funds to cover this payment."

# Stripe's test PaymentMethod tokens for cards → (last4, brand).
TEST_CARDS = {
    "pm_card_visa": ("4242", "visa"),
    "pm_card_mastercard": ("4444", "mastercard"),
    "pm_card_chargeDeclined": ("0002", "visa"),
    "pm_card_visa_chargeDeclined": ("0002", "visa"),
}
TEST_BANK_ACCOUNT = "pm_usBankAccount"
DECLINING_LAST4 = frozenset({"0002", "9995"})

_NO_ADDRESS = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def billing_details(customer: dict[str, Any] | None) -> dict[str, Any]:
    customer = customer or {}
    return {
        "address": copy.deepcopy(customer.get("address")) or dict(_NO_ADDRESS),
        "email": customer.get("email"),
        "name": customer.get("name"),
        "phone": customer.get("phone"),
        "tax_id": None,
    }


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _card(
    brand: str,
    last4: str,
    exp_month: int,
    exp_year: int,
    card_fingerprint: str,
    country: str = "US",
) -> dict[str, Any]:
    return {
        "brand": brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": country,
        "display_brand": brand,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": card_fingerprint,
        "funding": "credit",
        "generated_from": None,
        "last4": last4,
        "networks": {"available": [brand], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def _shell(sandbox: Sandbox, details: dict[str, Any], customer_id: str | None) -> dict[str, Any]:
    return {
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": details,
        "created": sandbox.now(),
        "customer": customer_id,
        "customer_account": None,
        "metadata": {},
    }


def create(
    sandbox: Sandbox,
    account: Account,
    method: Method,
    customer: dict[str, Any] | None,
    *,
    card_number: str | None = None,
) -> dict[str, Any]:
    """A one-off, unattached PaymentMethod for `method` (what a client pays with); a test
    `card_number` gives the card its last four digits and its country."""
    pm = _shell(sandbox, billing_details(customer), None)
    if method == "ach":
        pm["type"] = "us_bank_account"
        pm["us_bank_account"] = {
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "STRIPE TEST BANK",
            "financial_connections_account": None,
            "fingerprint": fingerprint("110000000/000123456789"),
            "last4": "6789",
            "networks": {"preferred": "ach", "supported": ["ach"]},
            "routing_number": "110000000",
            "status_details": None,
        }
    else:
        last4 = "0002" if method == "card_declined" else "4242"
        country = INTERNATIONAL_CARDS.get(card_number or "", "US")
        if card_number:
            last4 = card_number[-4:]
        pm["type"] = "card"
        pm["card"] = _card(
            "visa", last4, 12, 2034, fingerprint("card" + (card_number or last4)), country
        )
    return sandbox.add(account, pm)


def new_card(
    sandbox: Sandbox,
    account: Account,
    customer: dict[str, Any],
    *,
    last4: str,
    brand: str = "visa",
    exp_month: int = 12,
    exp_year: int | None = None,
    name: str | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    """A card PaymentMethod attached to `customer` (event `payment_method.attached`)."""
    now = sandbox.now()
    pm = _shell(sandbox, {**billing_details(None), "name": name, "email": email}, customer["id"])
    pm["type"] = "card"
    pm["card"] = _card(
        brand,
        last4,
        exp_month,
        exp_year or datetime.fromtimestamp(now, UTC).year + 3,
        random_token(16),
    )
    pm = sandbox.add(account, pm)
    sandbox.emit(account, "payment_method.attached", pm)
    return pm


def set_default_payment_method(
    sandbox: Sandbox, account: Account, customer: dict[str, Any], pm: dict[str, Any]
) -> None:
    """Make `pm` the customer's `invoice_settings.default_payment_method`."""
    settings = customer.setdefault("invoice_settings", {})
    previous = settings.get("default_payment_method")
    if previous != pm["id"]:
        settings["default_payment_method"] = pm["id"]
        sandbox.emit(
            account,
            "customer.updated",
            customer,
            {"invoice_settings": {"default_payment_method": previous}},
        )


def customer_default_id(customer: dict[str, Any] | None) -> str | None:
    """The id in the customer's `invoice_settings.default_payment_method`, if any."""
    pm_id = ((customer or {}).get("invoice_settings") or {}).get("default_payment_method")
    return pm_id if isinstance(pm_id, str) and pm_id else None


def resolve_attached(
    sandbox: Sandbox,
    account: Account,
    customer: dict[str, Any],
    pm_id: str,
    param: str = "default_payment_method",
) -> str:
    """A `default_payment_method` param as a stored PaymentMethod attached to `customer`:
    a card test token becomes a new attached card."""
    if pm_id in TEST_CARDS:
        last4, brand = TEST_CARDS[pm_id]
        return str(new_card(sandbox, account, customer, last4=last4, brand=brand)["id"])
    pm = sandbox.find(account, "payment_method", pm_id)
    if pm is None:
        raise missing("PaymentMethod", pm_id, param)
    if pm.get("customer") != customer["id"]:
        raise StripeError(
            f"The customer does not have a payment method with the ID {pm_id}. The payment "
            "method must be attached to the customer.",
            param=param,
        )
    return pm_id


def default_of(
    sandbox: Sandbox, account: Account, customer_id: str, preferred: str | None = None
) -> dict[str, Any] | None:
    """The stored PaymentMethod to charge: `preferred` (e.g. a subscription's
    `default_payment_method`), else the customer's default."""
    customer = sandbox.find(account, "customer", customer_id)
    for pm_id in (preferred, customer_default_id(customer)):
        if pm_id:
            pm = sandbox.find(account, "payment_method", pm_id)
            if pm is not None:
                return pm
    return None


def method_of(pm: dict[str, Any]) -> Method:
    """How a payment with a stored PaymentMethod behaves."""
    if pm["type"] == "us_bank_account":
        return "ach"
    return "card_declined" if declines(pm) else "card"


def token_method(token: str) -> Method | None:
    """How a payment with one of Stripe's test tokens behaves (None: not a test token)."""
    if token == TEST_BANK_ACCOUNT:
        return "ach"
    if token in TEST_CARDS:
        return "card_declined" if TEST_CARDS[token][0] in DECLINING_LAST4 else "card"
    return None


def declines(pm: dict[str, Any]) -> bool:
    return (pm.get("card") or {}).get("last4") in DECLINING_LAST4


def details(pm: dict[str, Any], amount: int) -> dict[str, Any]:
    if pm["type"] == "us_bank_account":
        bank = pm["us_bank_account"]
        return {
            "type": "us_bank_account",
            "us_bank_account": {
                "account_holder_type": bank["account_holder_type"],
                "account_type": bank["account_type"],
                "bank_name": bank["bank_name"],
                "expected_debit_date": None,
                "fingerprint": bank["fingerprint"],
                "last4": bank["last4"],
                "mandate": None,
                "payment_reference": None,
                "routing_number": bank["routing_number"],
            },
        }
    card = pm["card"]
    return {
        "type": "card",
        "card": {
            "amount_authorized": amount,
            "authorization_code": None,
            "brand": card["brand"],
            "checks": dict(card["checks"]),
            "country": card["country"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "extended_authorization": {"status": "disabled"},
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "incremental_authorization": {"status": "unavailable"},
            "installments": None,
            "last4": card["last4"],
            "mandate": None,
            "multicapture": {"status": "unavailable"},
            "network": "visa",
            "network_token": {"used": False},
            "network_transaction_id": random_token(15),
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "regulated_status": "unregulated",
            "three_d_secure": None,
            "wallet": None,
        },
    }


def outcome(status: str, pm_type: str) -> dict[str, Any]:
    declined = status == "failed"
    if declined and pm_type == "card":
        reason, seller = "generic_decline", "The bank did not return any further details."
    elif declined:
        reason, seller = "insufficient_funds", ACH_FAILURE
    else:
        reason, seller = None, "Payment complete."
    return {
        "advice_code": "try_again_later" if declined and pm_type == "card" else None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "declined_by_network" if declined else "approved_by_network",
        "reason": reason,
        "risk_level": "normal" if pm_type == "card" else "not_assessed",
        "risk_score": 20 if pm_type == "card" else None,
        "seller_message": seller,
        "type": "issuer_declined" if declined else "authorized",
    }
