"""The QuickBooks Customer for one of our clients, in one company and currency: found or
made once, then remembered (`QuickBooksCustomer`).

Order: the stored row; else a Customer with the client's name (`DisplayName`) in that
currency; else a new one, created with a `requestid` derived from (org, realm, client,
currency, name), so a retry after any crash gets the same Customer back. A QuickBooks
customer's currency is fixed, and customers and vendors share one name list (6240), so when
the name is taken by a vendor or by a customer in another currency the client becomes
"<name> (<CUR>)". A customer found by name is adopted only when it is in the currency and
not another client's already (two clients of one name stay two customers: the second gets
"<name> (<CUR> <id>)" when need be); a create refused as a duplicate name (6240) looks the
name up again first (another worker may just have made this client's customer).

No database transaction is held while QuickBooks answers: the row is read in one short
session and written in another (a race with another worker ends with the same Customer,
found by requestid or by name, and one row).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from regentra.db import session_scope
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.integrations.quickbooks.documents import quoted
from regentra.integrations.quickbooks.errors import QuickBooksRejected
from regentra.integrations.quickbooks.postings import stable_id
from regentra.models import QuickBooksCustomer

DUPLICATE_NAME = "6240"
NAME_MAX = 100  # QuickBooks' DisplayName length


def stored(org_id: uuid.UUID, realm_id: str, client_id: uuid.UUID, currency: str) -> str | None:
    with session_scope() as session:
        return session.scalar(
            select(QuickBooksCustomer.customer_id).where(
                QuickBooksCustomer.org_id == org_id,
                QuickBooksCustomer.realm_id == realm_id,
                QuickBooksCustomer.client_id == client_id,
                QuickBooksCustomer.currency == currency,
            )
        )


def _remember(
    org_id: uuid.UUID, realm_id: str, client_id: uuid.UUID, currency: str, customer: dict[str, Any]
) -> str:
    try:
        with session_scope() as session:
            session.add(
                QuickBooksCustomer(
                    org_id=org_id,
                    realm_id=realm_id,
                    client_id=client_id,
                    currency=currency,
                    customer_id=str(customer["Id"]),
                    display_name=str(customer.get("DisplayName") or "")[:255],
                )
            )
    except IntegrityError:  # another worker remembered it first
        found = stored(org_id, realm_id, client_id, currency)
        if found is not None:
            return found
        raise
    return str(customer["Id"])


def _by_name(qbo: QuickBooks, name: str) -> dict[str, Any] | None:
    found = qbo.query(f"select * from Customer where DisplayName = {quoted(name)}")  # noqa: S608
    return found[0] if found else None


def _request_id(
    org_id: uuid.UUID,
    realm_id: str,
    client_id: uuid.UUID,
    currency: str,
    name: str,
    generation: int,
) -> str:
    return stable_id("customer", org_id, realm_id, client_id, currency, name, generation)


def candidates(name: str, currency: str, client_id: uuid.UUID | None = None) -> list[str]:
    """The display names to try: the client's name, then "<name> (<CUR>)", then (for
    another client of the same name) "<name> (<CUR> <first 8 of the client's id>)"."""
    base = " ".join(name.split())[:NAME_MAX] or "Client"
    suffixes = ["", f" ({currency})"]
    if client_id is not None:
        suffixes.append(f" ({currency} {str(client_id)[:8]})")
    return [base[: NAME_MAX - len(suffix)] + suffix for suffix in suffixes]


def _mapped_elsewhere(
    org_id: uuid.UUID, realm_id: str, client_id: uuid.UUID, customer_id: str
) -> bool:
    """Whether the Customer is already another client's (two clients of one name must not
    become one QuickBooks customer)."""
    with session_scope() as session:
        return (
            session.scalar(
                select(QuickBooksCustomer.id).where(
                    QuickBooksCustomer.org_id == org_id,
                    QuickBooksCustomer.realm_id == realm_id,
                    QuickBooksCustomer.customer_id == customer_id,
                    QuickBooksCustomer.client_id != client_id,
                )
            )
            is not None
        )


def _adoptable(
    qbo: QuickBooks,
    org_id: uuid.UUID,
    realm_id: str,
    client_id: uuid.UUID,
    currency: str,
    display_name: str,
) -> dict[str, Any] | None:
    """The Customer named `display_name` when this client may be it: in `currency`, and not
    another client's already."""
    existing = _by_name(qbo, display_name)
    if existing is None:
        return None
    if (existing.get("CurrencyRef") or {}).get("value", currency) != currency:
        return None  # the name is this client's (or another's) in another currency
    if _mapped_elsewhere(org_id, realm_id, client_id, str(existing["Id"])):
        return None
    return existing


def find_or_create(
    qbo: QuickBooks,
    *,
    org_id: uuid.UUID,
    client_id: uuid.UUID,
    name: str,
    email: str | None,
    currency: str,
    generation: int = 0,
) -> str:
    """The QuickBooks Customer id for the client in `currency` (see the module doc).
    `generation` is the invoice posting's: after a refusal (which QuickBooks replays to the
    same `requestid`) a Retry asks anew."""
    realm_id = qbo.realm_id
    known = stored(org_id, realm_id, client_id, currency)
    if known is not None:
        return known
    last: QuickBooksRejected | None = None
    for display_name in candidates(name, currency, client_id):
        existing = _adoptable(qbo, org_id, realm_id, client_id, currency, display_name)
        if existing is not None:
            return _remember(org_id, realm_id, client_id, currency, existing)
        body: dict[str, Any] = {
            "DisplayName": display_name,
            "CompanyName": name[:100],
            "CurrencyRef": {"value": currency},
        }
        if email:
            body["PrimaryEmailAddr"] = {"Address": email}
        try:
            made = qbo.create(
                "Customer",
                body,
                request_id=_request_id(
                    org_id, realm_id, client_id, currency, display_name, generation
                ),
            )
        except QuickBooksRejected as exc:
            if exc.fault_code != DUPLICATE_NAME:
                raise
            # Taken since we looked: another worker made this client's customer (adopt it),
            # or a vendor, employee or another client has the name (try the next one).
            raced = _adoptable(qbo, org_id, realm_id, client_id, currency, display_name)
            if raced is not None:
                return _remember(org_id, realm_id, client_id, currency, raced)
            last = exc
            continue
        return _remember(org_id, realm_id, client_id, currency, made)
    raise last or QuickBooksRejected(
        f"QuickBooks already has customers named {name!r} in other currencies: rename the "
        "client or the QuickBooks customer"
    )


def fee_vendor(
    qbo: QuickBooks, *, org_id: uuid.UUID, vendor_id: str, currency: str, generation: int = 0
) -> str:
    """The vendor a fee in `currency` is paid to: the mapped one when it is in that currency,
    else its twin "<name> (<CUR>)" in `currency` (a QuickBooks payee has one currency, and
    an expense is in its payee's): found by name, else created once (`requestid` from the
    org, company, mapped vendor, currency and the posting's generation)."""
    vendor = qbo.read("Vendor", vendor_id)
    if (vendor.get("CurrencyRef") or {}).get("value", currency) == currency:
        return vendor_id
    name = candidates(str(vendor.get("DisplayName") or "Stripe"), currency)[1]
    found = qbo.query(f"select * from Vendor where DisplayName = {quoted(name)}")  # noqa: S608
    for other in found:
        if (other.get("CurrencyRef") or {}).get("value") == currency:
            return str(other["Id"])
    if found:
        raise QuickBooksRejected(
            f"QuickBooks has a vendor named {name!r} in another currency than {currency}: "
            f"rename it, or map a fee vendor in {currency}, then Retry"
        )
    made = qbo.create(
        "Vendor",
        {"DisplayName": name, "CurrencyRef": {"value": currency}},
        request_id=stable_id("fee-vendor", org_id, qbo.realm_id, vendor_id, currency, generation),
    )
    return str(made["Id"])
