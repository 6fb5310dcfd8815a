"""Which payment methods an org's invoices offer: card everywhere; card and ACH Direct Debit
(`us_bank_account`) only for Stripe accounts in the United States, on USD invoices.

The account's country comes from Test Connection when the key may read the account (a secret
key); a restricted key may not, so the admin picks the country on the Stripe card. The org
chooses the methods; without a choice, the default follows the account: card and ACH for a US
account with ACH activated (its `us_bank_account_ach_payments` capability, read with the
account; assumed when a restricted key cannot read it), card only elsewhere, without ACH
activated, or while the country is unknown (Stripe refuses ACH there, so offering it blindly
would fail the send).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.errors import Invalid
from regentra.integrations.stripe.errors import AchNeedsUsAccount
from regentra.models import StripeConnection

Method = Literal["card", "us_bank_account"]
CARD: list[str] = ["card"]
CARD_AND_ACH: list[str] = ["card", "us_bank_account"]
LABELS = {"card": "Card", "us_bank_account": "ACH Direct Debit (US bank account)"}
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class StripePaymentMethods(BaseModel):
    """PUT body. `country`: the Stripe account's country (ISO 3166-1 alpha-2), for keys that
    may not read the account; `methods`: what invoices offer (null: the account's default)."""

    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(default=None, min_length=2, max_length=2)
    methods: list[Method] | None = None


def ach_possible(conn: StripeConnection) -> bool:
    """ACH can be offered: a US account that did not show ACH as inactive."""
    return conn.account_country == "US" and conn.account_ach_active is not False


def default_for(conn: StripeConnection) -> list[str]:
    return list(CARD_AND_ACH) if ach_possible(conn) else list(CARD)


def offered(conn: StripeConnection) -> list[str]:
    """What the org's invoices offer: its choice, else the account's default."""
    if conn.payment_methods:
        return conn.payment_methods.split(",")
    return default_for(conn)


def for_invoice(methods: list[str], currency: str) -> list[str]:
    """`payment_settings.payment_method_types` for an invoice in `currency`: ACH Direct Debit
    takes USD only."""
    return [m for m in methods if m != "us_bank_account" or currency.upper() == "USD"]


def offered_for_org(session: Session, *, org_id: uuid.UUID) -> list[str]:
    conn = session.scalar(select(StripeConnection).where(StripeConnection.org_id == org_id))
    return offered(conn) if conn is not None else list(CARD)


def summary(conn: StripeConnection) -> dict[str, Any]:
    """What GET /integrations/stripe and the card show."""
    return {
        "account_country": conn.account_country,
        "payment_methods": offered(conn),
        "payment_methods_default": conn.payment_methods is None,
        "ach_available": ach_possible(conn),
    }


def _no_ach(country: str | None) -> AchNeedsUsAccount:
    if country == "US":
        return AchNeedsUsAccount(
            "ACH Direct Debit (us_bank_account) is not activated in this Stripe account (Test "
            "Connection read its capabilities): activate it in Stripe's Dashboard (Settings → "
            "Payment methods) and test the connection again, or choose card only."
        )
    where = f"in {country}" if country else "of an unknown country"
    return AchNeedsUsAccount(
        "ACH Direct Debit (us_bank_account) is offered only for Stripe accounts in the "
        f"United States, and this Stripe account is {where}: choose card only"
        + ("" if country else ", or set the account's country to US first")
        + "."
    )


def _ach_possible_in(conn: StripeConnection, country: str | None) -> bool:
    return country == "US" and conn.account_ach_active is not False


def choose(
    session: Session, *, conn: StripeConnection, body: StripePaymentMethods, actor: Actor
) -> None:
    """Set the account's country and/or the methods (422 naming the problem; nothing is
    changed then). A country outside the US drops an ACH choice back to the default."""
    country = conn.account_country
    if body.country is not None:
        country = body.country.strip().upper()
        if not _COUNTRY.match(country):
            raise Invalid(
                "country: use the two-letter country code of the Stripe account (e.g. US, GB)",
                details={"fields": [{"field": "country", "message": "two letters, e.g. US"}]},
            )
    methods = conn.payment_methods.split(",") if conn.payment_methods else None
    if "methods" in body.model_fields_set:
        methods = None
        if body.methods is not None:
            if "card" not in body.methods:
                raise Invalid(
                    "methods: card is always offered; choose card, or card and us_bank_account",
                    details={"fields": [{"field": "methods", "message": "include card"}]},
                )
            methods = [m for m in CARD_AND_ACH if m in body.methods]
            if "us_bank_account" in methods and not _ach_possible_in(conn, country):
                raise _no_ach(country)
    elif methods is not None and "us_bank_account" in methods and country != "US":
        methods = None  # the account left the US: back to the default (card)
    before = {"country": conn.account_country, "methods": conn.payment_methods}
    conn.account_country = country
    conn.payment_methods = ",".join(methods) if methods is not None else None
    after = {"country": conn.account_country, "methods": conn.payment_methods}
    if after != before:
        record(
            session,
            org_id=conn.org_id,
            actor=actor,
            action="stripe.payment_methods_updated",
            subject_type="stripe_connection",
            subject_id=conn.id,
            details={"before": before, "after": after, "offered": offered(conn)},
        )
    session.flush()


def record_country(
    conn: StripeConnection, country: str | None, *, ach_active: bool | None = None
) -> None:
    """Test Connection read the account: keep its country and whether ACH is activated (an
    ACH choice falls back to the default when the account cannot take ACH)."""
    if not country:
        return
    conn.account_country = country.upper()
    conn.account_ach_active = ach_active
    chosen = conn.payment_methods.split(",") if conn.payment_methods else []
    if "us_bank_account" in chosen and not ach_possible(conn):
        conn.payment_methods = None
