"""Test Connection with a restricted key, and with a secret key (the account's name and
country), through the HTTP API against the Stripe sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.stripe.conftest import StripeSandbox, new_key

from integrations.conftest import StripeApp, assert_no_secret

# What Regentra's setup text asks a restricted key for, as Stripe permission ids.
DOCUMENTED = {
    "product": "read",
    "price": "read",
    "customer": "write",
    "invoice": "write",
    "event": "read",
    "payment_intent": "read",
    "charge": "read",
    "balance": "read",
    "refund": "write",
    "dispute": "read",
    "payout": "read",
}


def pk() -> str:
    return f"pk_test_{uuid.uuid4().hex}"


def restricted_key(sandbox: StripeSandbox, sk: str, permissions: dict[str, str]) -> str:
    form = {f"permissions[{name}]": access for name, access in permissions.items()}
    with sandbox.control(sk) as control:
        made = control.post("/_sandbox/restricted_keys", data=form)
    assert made.status_code == 200, made.text
    secret: str = made.json()["secret"]
    return secret


def test_restricted_key_with_the_documented_permissions_passes(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    sk = new_key()
    rk = restricted_key(stripe_app.sandbox, sk, DOCUMENTED)
    with kit.api() as api:
        status = api.get("/integrations/stripe").json()
        listed = {(p["resource"], p["access"]) for p in status["required_permissions"]}
        assert listed == {
            ("Products", "Read"),
            ("Prices", "Read"),
            ("Customers", "Write"),
            ("Invoices", "Write"),
            ("Events", "Read"),
            ("PaymentIntents", "Read"),
            ("Charges", "Read"),
            ("Balance", "Read"),
            ("Refunds", "Write"),
            ("Disputes", "Read"),
            ("Payouts", "Read"),
        }
        r = api.post("/integrations/stripe/test", json={"publishable_key": pk(), "secret_key": rk})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True, body
    assert body["missing_permissions"] == []
    assert body["country"] is None  # a restricted key may not read the account
    assert "restricted key" in body["message"]
    assert_no_secret(r.text, sk, rk)
    # The check created nothing in the account.
    owner = stripe_app.sandbox.client(sk)
    assert owner.v1.customers.list().data == []
    assert owner.v1.invoices.list().data == []
    # It asked for what Regentra uses, and never for the account.
    with stripe_app.sandbox.control(sk) as control:
        paths = {(q["method"], q["path"]) for q in control.get("/_sandbox/requests").json()["data"]}
    assert ("GET", "/v1/account") not in paths
    assert {("GET", "/v1/events"), ("GET", "/v1/payment_intents"), ("GET", "/v1/prices")} <= paths


def test_restricted_key_lacking_events_read_fails_naming_it(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    sk = new_key()
    lacking = {k: v for k, v in DOCUMENTED.items() if k != "event"}
    rk = restricted_key(stripe_app.sandbox, sk, lacking)
    with kit.api() as api:
        r = api.post("/integrations/stripe/test", json={"publishable_key": pk(), "secret_key": rk})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is False
        assert body["missing_permissions"] == ["Events (Read)"]
        assert "Events (Read)" in body["message"] and "API keys" in body["message"]
        last = api.get("/integrations/stripe").json()["last_test"]
    assert last["ok"] is False and "Events (Read)" in last["message"]


def test_restricted_key_read_only_where_writes_are_needed(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    sk = new_key()
    reads = {k: "read" for k in DOCUMENTED}
    rk = restricted_key(stripe_app.sandbox, sk, reads)
    with kit.api() as api:
        body = api.post(
            "/integrations/stripe/test", json={"publishable_key": pk(), "secret_key": rk}
        ).json()
    assert body["ok"] is False
    assert body["missing_permissions"] == [
        "Customers (Write)",
        "Invoices (Write)",
        "Refunds (Write)",
    ]


def test_unknown_restricted_key_is_rejected(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    with kit.api() as api:
        body = api.post(
            "/integrations/stripe/test",
            json={"publishable_key": pk(), "secret_key": "rk_test_" + uuid.uuid4().hex},
        ).json()
    assert body["ok"] is False and body["missing_permissions"] == []
    assert "rejected the secret key" in body["message"]


def _set_country(sandbox: StripeSandbox, sk: str, country: str) -> None:
    with sandbox.control(sk) as control:
        r = control.post("/_sandbox/account", data={"country": country})
    assert r.status_code == 200, r.text


def test_secret_key_shows_the_account_name_and_records_its_country(
    stripe_app: StripeApp,
) -> None:
    kit = stripe_app.make_org()
    sk = new_key()
    _set_country(stripe_app.sandbox, sk, "GB")
    account: Any = stripe_app.sandbox.client(sk).v1.accounts.retrieve_current()
    with kit.api() as api:
        r = api.post("/integrations/stripe/test", json={"publishable_key": pk(), "secret_key": sk})
        body = r.json()
        assert body["ok"] is True, body
        assert body["account_id"] == account.id
        assert body["account_name"] == account.business_profile.name
        assert body["country"] == "GB"
        status = api.get("/integrations/stripe").json()
    assert status["account_country"] == "GB"
    assert status["payment_methods"] == ["card"] and status["payment_methods_default"] is True
    assert status["ach_available"] is False
