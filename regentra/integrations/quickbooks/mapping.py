"""Mapping setup: which QuickBooks accounts, vendor and item the postings use, chosen on the
card from the company's own lists (read live, never cached) and checked against them again
when saved.

- `choices(org_id)`: the company's active accounts, vendors and items, grouped per mapping
  field with the types each field allows, and a suggested default per field ("Stripe
  Clearing" for Stripe payments, "Merchant Fees", the vendor "Stripe", the item "Services").
- `save(session, org_id=, body=, actor=)`: every id must be an active object of an allowed
  type in the connected company (422 naming the field and, in words, what the object is),
  the fee vendor may be created ("Stripe", with a `requestid`, so a double submit makes one);
  then the ids and their names are kept, audited, and waiting postings resume.
- `object_link(conn, qbo_type, qbo_id)`: where a posted object is seen (QuickBooks' app, or
  the local sandbox's company page).

Stripe Clearing vs Undeposited Funds: a Bank-type clearing account lets each Stripe payout be
matched against the payments it carries; Undeposited Funds is allowed, but then payouts are
not matched automatically and no payout Transfer is posted (the card says so).

The payout bank account and the account for disputed amounts are optional (mappings saved
before they existed stay valid): the refund, dispute and payout postings that need them fail
naming the field until they are set (`movement_kinds`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.orm import Session

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.config import get_settings
from regentra.errors import Invalid
from regentra.integrations.quickbooks import connection, item_mappings, oauth
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.integrations.quickbooks.errors import QuickBooksNotConnected, ReconnectNeeded
from regentra.integrations.quickbooks.item_mappings import CatalogItemIncome
from regentra.integrations.quickbooks.postings import RESUME_TASK, stable_id
from regentra.invoices.transitions import org_today
from regentra.kit.time import utcnow
from regentra.models import Org, QuickBooksConnection

UNDEPOSITED = "UndepositedFunds"
EXPENSE_TYPES = ("Expense", "Other Expense", "Cost of Goods Sold")
DEPOSIT_TYPES = ("Bank", "Other Current Asset")
PAID_FROM_TYPES = ("Bank", "Credit Card")
ITEM_TYPES = ("Service", "NonInventory")
PAYOUT_TYPES = ("Bank",)
DISPUTE_TYPES = ("Expense", "Other Expense")
UNDEPOSITED_NOTE = (
    "Stripe payments are deposited to Undeposited Funds: each Stripe payout is posted as a "
    "Deposit grouping the payments it paid out, less what Stripe took out (fees, refunds, "
    "disputes) from the account the fees are paid from, which must then be a clearing account "
    "such as Stripe Clearing (not the payout bank account)."
)


@dataclass(frozen=True)
class MappingField:
    """One mapping field: its label, what QuickBooks entity it names and which types."""

    name: str
    label: str
    entity: str  # Account, Vendor or Item
    types: tuple[str, ...]
    kind_words: str  # "an expense account", for messages
    help: str
    optional: bool = False  # may be left unset (postings that need it fail until it is set)


FIELDS: tuple[MappingField, ...] = (
    MappingField(
        "deposit_account",
        "Deposit account for Stripe payments",
        "Account",
        DEPOSIT_TYPES,
        "a Bank or Other Current Asset account",
        "Where payments collected through Stripe land: a Bank-type clearing account such as "
        "Stripe Clearing, so payouts can be matched (Undeposited Funds is allowed).",
    ),
    MappingField(
        "other_deposit_account",
        "Deposit account for payments outside Stripe",
        "Account",
        DEPOSIT_TYPES,
        "a Bank or Other Current Asset account",
        "Cheques and wires recorded as paid: Undeposited Funds or your checking account.",
    ),
    MappingField(
        "fee_account",
        "Stripe fee expense account",
        "Account",
        EXPENSE_TYPES,
        "an expense account",
        "Each Stripe processing fee is an expense line to this account (e.g. Merchant Fees).",
    ),
    MappingField(
        "fee_paid_from_account",
        "Account the fees are paid from",
        "Account",
        PAID_FROM_TYPES,
        "a Bank or Credit Card account",
        "Stripe keeps its fee out of the payout: usually the Stripe Clearing account.",
    ),
    MappingField(
        "fee_vendor",
        "Vendor for fees",
        "Vendor",
        (),
        "a vendor",
        "The fee Purchases are made out to this vendor (usually Stripe).",
    ),
    MappingField(
        "income_item",
        "Income item for invoice lines",
        "Item",
        ITEM_TYPES,
        "a Service or Non-inventory item",
        "Mirrored invoice lines use this product/service (e.g. Services).",
    ),
    MappingField(
        "payout_account",
        "Bank account Stripe payouts go to",
        "Account",
        PAYOUT_TYPES,
        "a Bank account",
        "Each Stripe payout is a Transfer from the deposit account for Stripe payments to this "
        "bank account (a failed payout, the Transfer back); with Undeposited Funds, a Deposit "
        "into it of the payments the payout paid out. Optional: payouts wait until it is set.",
        optional=True,
    ),
    MappingField(
        "dispute_account",
        "Account for disputed amounts",
        "Account",
        DISPUTE_TYPES,
        "an Expense or Other Expense account",
        "What Stripe withdraws for a dispute (chargeback) is an expense here, e.g. Chargebacks; "
        "a won dispute gives it back. Optional: disputes fail until it is set.",
        optional=True,
    ),
)
BY_NAME = {f.name: f for f in FIELDS}


class MappingBody(BaseModel):
    """`PUT /api/v1/integrations/quickbooks/mapping`: QuickBooks ids from `choices`. The fee
    vendor is either `fee_vendor_id` or `create_vendor` (a name: the vendor is made, or the
    one of that name is used)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    deposit_account_id: str = Field(min_length=1, max_length=64)
    other_deposit_account_id: str = Field(min_length=1, max_length=64)
    fee_account_id: str = Field(min_length=1, max_length=64)
    fee_paid_from_account_id: str = Field(min_length=1, max_length=64)
    fee_vendor_id: str | None = Field(default=None, min_length=1, max_length=64)
    create_vendor: str | None = Field(
        default=None, min_length=1, max_length=100, description='e.g. "Stripe"'
    )
    income_item_id: str = Field(min_length=1, max_length=64)
    payout_account_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="A Bank account; optional"
    )
    dispute_account_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="An Expense or Other Expense account; optional",
    )
    post_from: date | None = Field(
        default=None,
        description="Nothing dated before this is posted; default today in the org's time zone",
    )
    catalog_items: list[CatalogItemIncome] | None = Field(
        default=None,
        max_length=1000,
        description="Income items per catalog item: each named catalog item's lines post to "
        "its item (null: back to the income item); catalog items not named keep theirs",
    )

    @field_validator("create_vendor")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(ord(ch) < 32 or ch in "\\:" for ch in value):
            raise ValueError("a vendor name has no control characters, backslashes or colons")
        return value

    @model_validator(mode="after")
    def _one_vendor(self) -> MappingBody:
        if (self.fee_vendor_id is None) == (self.create_vendor is None):
            raise ValueError("give either fee_vendor_id (an existing vendor) or create_vendor")
        return self


# ---- reading the company -----------------------------------------------------------------------


def _account(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(raw.get("Id")),
        "name": str(raw.get("FullyQualifiedName") or raw.get("Name") or ""),
        "type": str(raw.get("AccountType") or ""),
        "subtype": raw.get("AccountSubType"),
        "currency": (raw.get("CurrencyRef") or {}).get("value"),
        "active": raw.get("Active") is not False,
    }


def _vendor(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(raw.get("Id")),
        "name": str(raw.get("DisplayName") or ""),
        "type": "Vendor",
        "subtype": None,
        "currency": (raw.get("CurrencyRef") or {}).get("value"),
        "active": raw.get("Active") is not False,
    }


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(raw.get("Id")),
        "name": str(raw.get("FullyQualifiedName") or raw.get("Name") or ""),
        "type": str(raw.get("Type") or ""),
        "subtype": None,
        "currency": None,
        "active": raw.get("Active") is not False,
    }


@dataclass
class Company:
    """The company's name lists, inactive objects included (QuickBooks' default query
    answers active ones only, hence `Active in (true, false)`)."""

    accounts: list[dict[str, Any]]
    vendors: list[dict[str, Any]]
    items: list[dict[str, Any]]

    def of(self, entity: str) -> list[dict[str, Any]]:
        return {"Account": self.accounts, "Vendor": self.vendors, "Item": self.items}[entity]


EVERY_ACCOUNT = "select * from Account where Active in (true, false)"
EVERY_VENDOR = "select * from Vendor where Active in (true, false)"
EVERY_ITEM = "select * from Item where Active in (true, false)"


def _read_company(qbo: QuickBooks) -> Company:
    return Company(
        accounts=[_account(a) for a in qbo.query(EVERY_ACCOUNT)],
        vendors=[_vendor(v) for v in qbo.query(EVERY_VENDOR)],
        items=[_item(i) for i in qbo.query(EVERY_ITEM)],
    )


def _allowed(spec: MappingField, obj: dict[str, Any]) -> bool:
    return not spec.types or obj["type"] in spec.types


def _named(options: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((o for o in options if o["name"].casefold() == name.casefold()), None)


def _first(options: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((o for o in options if all(o.get(k) == v for k, v in match.items())), None)


def _suggest(field: str, options: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The default preselected on the card for `field`, among its allowed active options."""
    banks = [o for o in options if o["type"] == "Bank"]
    candidates: list[dict[str, Any] | None]
    if field == "deposit_account":
        candidates = [_named(banks, "Stripe Clearing"), _first(options, subtype=UNDEPOSITED)]
    elif field == "other_deposit_account":
        candidates = [
            _first(options, subtype=UNDEPOSITED),
            _named(options, "Undeposited Funds"),
            _first(banks, subtype="Checking"),
            _named(banks, "Checking"),
        ]
    elif field == "fee_account":
        candidates = [_named(options, "Merchant Fees"), _first(options, type="Expense")]
    elif field == "fee_paid_from_account":
        candidates = [_named(banks, "Stripe Clearing")]
    elif field == "fee_vendor":
        candidates = [_named(options, "Stripe")]
    elif field == "payout_account":
        candidates = [_first(banks, subtype="Checking"), _named(banks, "Checking")]
    elif field == "dispute_account":
        candidates = [_named(options, "Chargebacks"), _named(options, "Disputes")]
    else:
        candidates = [_named(options, "Services"), _first(options, type="Service")]
    return next((c for c in candidates if c is not None), None)


def _grouped(company: Company) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for spec in FIELDS:
        options = sorted(
            (o for o in company.of(spec.entity) if o["active"] and _allowed(spec, o)),
            key=lambda o: o["name"].casefold(),
        )
        suggested = _suggest(spec.name, options)
        fields[spec.name] = {
            "label": spec.label,
            "help": spec.help,
            "entity": spec.entity,
            "allowed_types": list(spec.types),
            "optional": spec.optional,
            "options": options,
            "suggested_id": suggested["id"] if suggested else None,
        }
    # No vendor named Stripe yet: the card offers to create it.
    vendor = fields["fee_vendor"]
    vendor["create_suggested"] = None if vendor["suggested_id"] else "Stripe"
    return fields


def today_for(session: Session, org_id: uuid.UUID) -> date:
    """Today in the org's time zone (the default `post_from`)."""
    org = session.get(Org, org_id)
    if org is None:
        return utcnow().date()
    return org_today(org)


def require_connection(session: Session, *, org_id: uuid.UUID) -> QuickBooksConnection:
    """The org's connection, usable: 409 in words when it is not."""
    conn = connection.find(session, org_id=org_id)
    if not connection.is_connected(conn) or conn is None:
        raise QuickBooksNotConnected(
            "QuickBooks is not connected: connect it under Settings → Integrations → "
            "QuickBooks before mapping accounts"
        )
    if conn.reconnect_needed_at is not None:
        raise ReconnectNeeded(
            "QuickBooks needs to be connected again (its authorization ended"
            + (f": {conn.reconnect_reason}" if conn.reconnect_reason else "")
            + "); reconnect it, then save the mapping"
        )
    return conn


# A page that reads the choices while someone waits: a short timeout, no retries.
PAGE_TIMEOUT_SECONDS = 10.0


def choices(org_id: uuid.UUID, *, page: bool = False) -> dict[str, Any]:
    """The live choices per mapping field (`fields[name] = {label, allowed_types, options,
    suggested_id}`). Talks to QuickBooks: call it with no transaction open (SQLite holds its
    write lock for a whole transaction, and the client opens sessions of its own). `page`:
    for a request someone waits on (gives up after one short try)."""
    quick: dict[str, Any] = {"timeout": PAGE_TIMEOUT_SECONDS, "retries": 0} if page else {}
    with QuickBooks(org_id, **quick) as qbo:
        company = _read_company(qbo)
    return {"fields": _grouped(company)}


# ---- saving --------------------------------------------------------------------------------


def _a(words: str) -> str:
    return ("an " if words[:1].lower() in "aeiou" else "a ") + words


def _problem(spec: MappingField, obj_id: str, company: Company) -> str | None:
    """Why `obj_id` cannot be `spec`'s object, in words (None when it can)."""
    found = next((o for o in company.of(spec.entity) if o["id"] == obj_id), None)
    what = spec.entity.lower()
    if found is None:
        return f"there is no {what} with id {obj_id!r} in the connected QuickBooks company"
    if not found["active"]:
        return (
            f"{found['name']!r} is inactive in QuickBooks; make it active there or choose another"
        )
    if not _allowed(spec, found):
        suggestion = _suggest(
            spec.name,
            [o for o in company.of(spec.entity) if o["active"] and _allowed(spec, o)],
        )
        such = f" such as {suggestion['name']}" if suggestion else ""
        return (
            f"{found['name']!r} is {_a(found['type'] + ' ' + what)}; choose {spec.kind_words}{such}"
        )
    return None


VENDOR_ID_WINDOW = 300  # seconds: one generation of the vendor create's requestid


def _undeposited_problem(ids: dict[str, str], company: Company) -> str | None:
    """With Undeposited Funds for Stripe payments, each payout's Deposit into the payout bank
    account takes what Stripe kept back from the account the fees are paid from: the two
    cannot be one account."""
    deposit = next((a for a in company.accounts if a["id"] == ids["deposit_account"]), {})
    if deposit.get("subtype") != UNDEPOSITED:
        return None
    if ids["fee_paid_from_account"] == ids.get("payout_account"):
        return (
            "with Undeposited Funds for Stripe payments, each payout is a Deposit into the "
            "payout bank account that takes back from this account what Stripe kept (fees, "
            "refunds, disputes), so it cannot be the payout bank account: choose a clearing "
            "account such as Stripe Clearing"
        )
    return None


def _vendor_request_id(
    org_id: uuid.UUID, realm_id: str, name: str, at: datetime | None = None
) -> str:
    """The vendor create's `requestid`: the same for a double submit (within the same
    `VENDOR_ID_WINDOW`), a new one after it, so a Save retried after QuickBooks refused the
    create (which it would replay to the same id forever) can succeed."""
    window = int((at or utcnow()).timestamp()) // VENDOR_ID_WINDOW
    return stable_id("vendor", org_id, realm_id, name.casefold(), window)


def _find_or_create_vendor(
    qbo: QuickBooks, company: Company, *, org_id: uuid.UUID, realm_id: str, name: str
) -> dict[str, Any]:
    """The vendor named `name`: the existing one (active), or a new one. The `requestid`
    is derived from the org, company and name, so a double submit creates one vendor."""
    existing = _named(company.vendors, name)
    if existing is not None:
        if not existing["active"]:
            raise Invalid(
                f"create_vendor: a vendor named {existing['name']!r} exists but is inactive in "
                "QuickBooks; make it active there or choose another vendor",
                code="quickbooks_mapping_invalid",
                details={"fields": [{"field": "create_vendor", "message": "inactive vendor"}]},
            )
        return existing
    made = _vendor(
        qbo.create(
            "Vendor",
            {"DisplayName": name},
            request_id=_vendor_request_id(org_id, realm_id, name),
        )
    )
    # A replayed answer shows the vendor as it was made: prefer what the company holds now.
    current = next((v for v in company.vendors if v["id"] == made["id"]), None)
    if current is not None and not current["active"]:
        raise Invalid(
            f"create_vendor: the vendor made earlier for {name!r} ({current['name']!r}) is "
            "inactive in QuickBooks; make it active there or choose another vendor",
            code="quickbooks_mapping_invalid",
            details={"fields": [{"field": "create_vendor", "message": "inactive vendor"}]},
        )
    return current or made


def _label(obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": obj["id"], "name": obj["name"], "type": obj["type"], "subtype": obj["subtype"]}


def save(
    session: Session, *, org_id: uuid.UUID, body: MappingBody, actor: Actor
) -> QuickBooksConnection:
    """Check the mapping against the live company, keep it, audit it and resume postings.

    A request-boundary flow (like `connection.complete`): the caller's transaction is
    committed before QuickBooks is asked (no lock is held while it answers), and the mapping
    is written in a new one, which the caller commits (then `quickbooks.resume` is sent)."""
    conn = require_connection(session, org_id=org_id)
    realm_id = conn.realm_id
    assert realm_id is not None
    post_from = body.post_from or today_for(session, org_id)
    per_item = body.catalog_items or []
    catalog_names = item_mappings.check_catalog(session, org_id=org_id, choices=per_item)
    session.commit()
    ids = {
        "deposit_account": body.deposit_account_id,
        "other_deposit_account": body.other_deposit_account_id,
        "fee_account": body.fee_account_id,
        "fee_paid_from_account": body.fee_paid_from_account_id,
        "income_item": body.income_item_id,
    }
    if body.fee_vendor_id is not None:
        ids["fee_vendor"] = body.fee_vendor_id
    if body.payout_account_id is not None:
        ids["payout_account"] = body.payout_account_id
    if body.dispute_account_id is not None:
        ids["dispute_account"] = body.dispute_account_id
    with QuickBooks(org_id) as qbo:
        company = _read_company(qbo)
        problems = []
        for spec in FIELDS:
            if spec.name in ids and (why := _problem(spec, ids[spec.name], company)):
                problems.append({"field": spec.name, "message": why})
        if not problems and (why := _undeposited_problem(ids, company)):
            problems.append({"field": "fee_paid_from_account", "message": why})
        income = BY_NAME["income_item"]
        problems += item_mappings.problems(
            per_item, lambda item_id: _problem(income, item_id, company), catalog_names
        )
        if problems:
            raise Invalid(
                "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                code="quickbooks_mapping_invalid",
                details={"fields": problems},
            )
        if body.create_vendor is not None:
            vendor = _find_or_create_vendor(
                qbo, company, org_id=org_id, realm_id=realm_id, name=body.create_vendor
            )
            company.vendors.append(vendor)
            ids["fee_vendor"] = vendor["id"]
    chosen = {
        spec.name: next(o for o in company.of(spec.entity) if o["id"] == ids[spec.name])
        for spec in FIELDS
        if spec.name in ids
    }
    session.refresh(conn)  # as it is now: a disconnect or another Connect may have happened
    conn = require_connection(session, org_id=org_id)
    if conn.realm_id != realm_id:
        raise QuickBooksNotConnected(
            "another QuickBooks company was connected meanwhile: reload and map its accounts"
        )
    conn.deposit_account_id = ids["deposit_account"]
    conn.other_deposit_account_id = ids["other_deposit_account"]
    conn.fee_account_id = ids["fee_account"]
    conn.fee_paid_from_account_id = ids["fee_paid_from_account"]
    conn.fee_vendor_id = ids["fee_vendor"]
    conn.income_item_id = ids["income_item"]
    conn.payout_account_id = ids.get("payout_account")
    conn.dispute_account_id = ids.get("dispute_account")
    conn.post_from = post_from
    conn.mapping_saved_at = utcnow()
    conn.mapping_labels = {name: _label(obj) for name, obj in chosen.items()}
    per_item_changed = item_mappings.store(
        session,
        org_id=org_id,
        realm_id=realm_id,
        choices=per_item,
        items={i["id"]: i for i in company.items},
    )
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="quickbooks.mapping_saved",
        subject_type="quickbooks_connection",
        subject_id=conn.id,
        details={
            "realm_id": realm_id,
            "post_from": post_from.isoformat(),
            **{name: {"id": obj["id"], "name": obj["name"]} for name, obj in chosen.items()},
            **({"vendor_created": body.create_vendor} if body.create_vendor else {}),
            **({"catalog_items": per_item_changed} if per_item_changed else {}),
        },
    )
    session.flush()
    queue.enqueue(session, RESUME_TASK, str(org_id))
    return conn


def saved(conn: QuickBooksConnection | None) -> dict[str, Any] | None:
    """The saved mapping as the API and the card show it (None before one is saved)."""
    if conn is None or conn.mapping_saved_at is None:
        return None
    labels = conn.mapping_labels or {}
    return {
        "saved_at": conn.mapping_saved_at.isoformat(),
        "post_from": conn.post_from.isoformat() if conn.post_from else None,
        "fields": {
            spec.name: {
                "id": getattr(conn, f"{spec.name}_id"),
                "name": (labels.get(spec.name) or {}).get("name"),
                "type": (labels.get(spec.name) or {}).get("type"),
            }
            for spec in FIELDS
        },
    }


def notes(conn: QuickBooksConnection | None) -> list[str]:
    """What the card says about the saved mapping (e.g. Undeposited Funds: no matching)."""
    if conn is None or conn.mapping_saved_at is None:
        return []
    deposit = (conn.mapping_labels or {}).get("deposit_account") or {}
    if deposit.get("subtype") == UNDEPOSITED:
        return [UNDEPOSITED_NOTE]
    return []


# ---- links to the objects --------------------------------------------------------------------

_APP_PAGES = {
    "Invoice": "invoice",
    "Payment": "recvpayment",
    "Purchase": "expense",
    "CreditMemo": "creditmemo",
}


def object_link(
    conn: QuickBooksConnection | None,
    qbo_type: str | None,
    qbo_id: str | None,
    *,
    realm_id: str | None = None,
) -> str | None:
    """Where a person sees a posted object: QuickBooks' app for Intuit's environments
    (`app.sandbox.qbo.intuit.com` for Intuit's sandbox companies), the local sandbox's
    company page otherwise (`REGENTRA_QBO_ENVIRONMENT` a discovery URL). `realm_id`: the
    company the object was posted to (a posting's), else the connection's."""
    if not qbo_type or not qbo_id:
        return None
    intuit = oauth.intuit_environment()
    if intuit:
        page = _APP_PAGES.get(qbo_type)
        return f"{oauth.INTUIT_APP[intuit]}/app/{page}?txnId={quote(qbo_id)}" if page else None
    parts = urlsplit(get_settings().qbo_environment.strip())
    realm = realm_id or (conn.realm_id if conn is not None else None)
    if parts.scheme not in ("http", "https") or not parts.netloc or not realm:
        return None
    return f"{parts.scheme}://{parts.netloc}/company/{quote(realm)}"
