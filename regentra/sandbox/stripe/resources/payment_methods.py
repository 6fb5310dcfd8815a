"""The test payment methods the sandbox pays with, and what a charge records of them:
a Visa ending 4242 (succeeds) or 0002 (declined), and a US bank account (ACH)."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from regentra.sandbox.stripe.state import Account, Sandbox, random_token

DECLINE = "Your card was declined."
ACH_FAILURE = "The customer's account has insufficient funds to cover this payment."

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


def create(
    sandbox: Sandbox, account: Account, method: str, customer: dict[str, Any] | None
) -> dict[str, Any]:
    pm: dict[str, Any] = {
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing_details(customer),
        "created": sandbox.now(),
        "customer": None,
        "customer_account": None,
        "metadata": {},
    }
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
        pm["type"] = "card"
        pm["card"] = {
            "brand": "visa",
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "display_brand": "visa",
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": fingerprint("card" + last4),
            "funding": "credit",
            "generated_from": None,
            "last4": last4,
            "networks": {"available": ["visa"], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        }
    return sandbox.add(account, pm)


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
