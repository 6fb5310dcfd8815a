"""The service catalog: what an MSP bills for, from Stripe (synced) or typed in by hand.

Stripe items are read-only here (they change in Stripe and come back with the next sync);
a sync never deletes, it marks what Stripe archived inactive. One sync per org runs at a
time: the partial unique index on catalog_syncs makes a second request join the first.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.catalog.errors import (
    ItemAmount,
    ItemCurrency,
    ItemInactive,
    ItemRecurring,
    ItemUnpriced,
    ManagedByStripe,
    UnknownItem,
)
from regentra.catalog.lines import check_fixed_price
from regentra.catalog.schemas import CatalogItemCreate, CatalogItemUpdate, StripeItem
from regentra.errors import Conflict, Invalid
from regentra.kit.ids import new_id
from regentra.kit.money import check_currency
from regentra.kit.pagination import Page, check_limit
from regentra.kit.time import as_utc, utcnow
from regentra.models import (
    CatalogItem,
    CatalogPricing,
    CatalogSource,
    CatalogSync,
    OrgSecret,
    SecretPurpose,
    SyncStatus,
)
from regentra.models.catalog_sync import ACTIVE_SYNC_STATUSES
from regentra.orgs.errors import StripeNotConnected
from regentra.orgs.repository import OrgScopedRepository

items = OrgScopedRepository(CatalogItem, "catalog item")
syncs = OrgScopedRepository(CatalogSync, "catalog sync")

SYNC_TASK = "stripe.catalog_sync"
# A queued or running sync that has not moved for this long is taken as dead (a worker
# crashed, or the task gave up): the next request marks it failed and starts afresh.
STALE_AFTER = timedelta(minutes=5)
# Rows per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 500

# ---- items ---------------------------------------------------------------------------------


def _encode_cursor(name: str, item_id: uuid.UUID) -> str:
    raw = json.dumps([name, str(item_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, item_id = json.loads(raw)
        return str(name), uuid.UUID(str(item_id))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise Invalid("cursor is not valid: pass the next_cursor of a previous page") from exc


def list_items(
    session: Session,
    *,
    org_id: uuid.UUID,
    q: str | None = None,
    active: bool | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[CatalogItem]:
    """Items by name. `q` matches name, description and Stripe ids (case-insensitive)."""
    size = check_limit(limit)
    stmt = items.select(org_id)
    if q and q.strip():
        needle = q.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(CatalogItem.name).contains(needle, autoescape=True),
                func.lower(func.coalesce(CatalogItem.description, "")).contains(
                    needle, autoescape=True
                ),
                func.lower(func.coalesce(CatalogItem.stripe_price_id, "")).contains(
                    needle, autoescape=True
                ),
                func.lower(func.coalesce(CatalogItem.stripe_product_id, "")).contains(
                    needle, autoescape=True
                ),
            )
        )
    if active is not None:
        stmt = stmt.where(CatalogItem.active.is_(active))
    if cursor:
        name, last_id = _decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                CatalogItem.name > name,
                and_(CatalogItem.name == name, CatalogItem.id > last_id),
            )
        )
    rows = list(
        session.scalars(stmt.order_by(CatalogItem.name, CatalogItem.id).limit(size + 1)).all()
    )
    page = rows[:size]
    next_cursor = _encode_cursor(page[-1].name, page[-1].id) if len(rows) > size else None
    return Page(items=page, next_cursor=next_cursor)


def count_items(session: Session, *, org_id: uuid.UUID, active: bool | None = None) -> int:
    stmt = select(func.count()).select_from(CatalogItem).where(CatalogItem.org_id == org_id)
    if active is not None:
        stmt = stmt.where(CatalogItem.active.is_(active))
    return int(session.scalar(stmt) or 0)


def _check_priced(unit_amount: int | None, currency: str | None) -> None:
    if unit_amount is not None and currency is None:
        raise Invalid("currency is required when unit_amount is set (e.g. USD)")


def create_manual(
    session: Session, *, org_id: uuid.UUID, data: CatalogItemCreate, actor: Actor
) -> CatalogItem:
    name = data.name.strip()
    if not name:
        raise Invalid("name must not be blank")
    currency = check_currency(data.currency) if data.currency else None
    _check_priced(data.unit_amount, currency)
    item = CatalogItem(
        org_id=org_id,
        name=name,
        description=(data.description or "").strip() or None,
        unit_amount=data.unit_amount,
        currency=currency,
        recurring_interval=data.recurring_interval,
        recurring_interval_count=1 if data.recurring_interval else None,
        active=data.active,
        source=CatalogSource.manual.value,
    )
    session.add(item)
    session.flush()
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="catalog_item.created",
        subject_type="catalog_item",
        subject_id=item.id,
        details={"name": item.name, "unit_amount": item.unit_amount, "currency": item.currency},
    )
    return item


def check_editable(item: CatalogItem) -> None:
    """409 for an item synced from Stripe: it changes in Stripe, not here."""
    if item.source == CatalogSource.stripe.value:
        raise ManagedByStripe(
            "this item comes from Stripe: change it in the Stripe Dashboard, then use "
            "Sync from Stripe on the Catalog page"
        )


def update(
    session: Session,
    *,
    org_id: uuid.UUID,
    item_id: uuid.UUID,
    data: CatalogItemUpdate,
    actor: Actor,
) -> CatalogItem:
    item = items.get(session, org_id=org_id, id=item_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    if changes:
        check_editable(item)
    for field in ("name", "active"):
        if field in changes and changes[field] is None:
            raise Invalid(f"{field} cannot be null")
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        if not changes["name"]:
            raise Invalid("name must not be blank")
    if "description" in changes:
        changes["description"] = (changes["description"] or "").strip() or None
    if changes.get("currency") is not None:
        changes["currency"] = check_currency(changes["currency"])
    if "recurring_interval" in changes:
        changes["recurring_interval_count"] = 1 if changes["recurring_interval"] else None
    _check_priced(
        changes.get("unit_amount", item.unit_amount), changes.get("currency", item.currency)
    )
    applied = {k: v for k, v in changes.items() if getattr(item, k) != v}
    for key, value in applied.items():
        setattr(item, key, value)
    if applied:
        session.flush()
        record(
            session,
            org_id=org_id,
            actor=actor,
            action="catalog_item.updated",
            subject_type="catalog_item",
            subject_id=item.id,
            details={"changed": sorted(applied)},
        )
    return item


def rate_items(session: Session, *, org_id: uuid.UUID, currency: str) -> list[CatalogItem]:
    """Items that can be a time entry's hourly rate for a client billed in `currency`."""
    stmt = (
        items.select(org_id)
        .where(
            CatalogItem.active.is_(True),
            CatalogItem.recurring_interval.is_(None),
            CatalogItem.pricing == CatalogPricing.per_unit.value,
            CatalogItem.unit_amount.is_not(None),
            CatalogItem.currency == currency.upper(),
        )
        .order_by(CatalogItem.name, CatalogItem.id)
        .limit(500)
    )
    return list(session.scalars(stmt).all())


MAX_RATE = 100_000_000  # the hourly-rate ceiling of time entries


def rate_from_item(
    session: Session, *, org_id: uuid.UUID, item_id: uuid.UUID, currency: str
) -> CatalogItem:
    """The item a time entry takes its hourly rate from, or 422 saying why it cannot."""
    item = items.find(session, org_id=org_id, id=item_id)
    if item is None:
        raise UnknownItem("catalog_item_id does not match any catalog item")
    label = f"catalog item '{item.name}'"
    if not item.active:
        raise ItemInactive(f"{label} is inactive: choose an active item")
    check_fixed_price(item)
    if item.recurring_interval is not None:
        raise ItemRecurring(
            f"{label} is a recurring ({item.recurring_interval}ly) price: choose a one-time "
            "price as an hourly rate"
        )
    if item.unit_amount is None or item.currency is None:
        raise ItemUnpriced(f"{label} has no price: choose an item with an amount")
    if item.currency != currency.upper():
        raise ItemCurrency(
            f"{label} is priced in {item.currency} but the client is billed in "
            f"{currency.upper()}: choose an item in {currency.upper()}"
        )
    if item.unit_amount > MAX_RATE:
        raise ItemAmount(f"{label} is too large to be an hourly rate")
    return item


# ---- syncs ---------------------------------------------------------------------------------


def _active_sync(session: Session, org_id: uuid.UUID) -> CatalogSync | None:
    stmt = syncs.select(org_id).where(CatalogSync.status.in_(ACTIVE_SYNC_STATUSES))
    return session.scalar(stmt)


def is_stale(sync: CatalogSync, *, now: datetime | None = None) -> bool:
    if sync.status not in ACTIVE_SYNC_STATUSES:
        return False
    return as_utc(sync.updated_at) < (now or utcnow()) - STALE_AFTER


def start_sync(session: Session, *, org_id: uuid.UUID, actor: Actor | None = None) -> CatalogSync:
    """Queue a sync from Stripe, or join the one already queued or running for the org.

    The task is enqueued by name, after the caller's transaction commits."""
    for _ in range(3):
        existing = _active_sync(session, org_id)
        if existing is not None:
            if not is_stale(existing):
                return existing
            _mark_failed(
                session,
                existing.id,
                "The sync was interrupted (the worker stopped); a new sync replaced it.",
                only_if_updated_before=utcnow() - STALE_AFTER,
            )
            session.flush()
            continue
        sync = CatalogSync(org_id=org_id, status=SyncStatus.queued.value, seen=0)
        try:
            with session.begin_nested():
                session.add(sync)
                session.flush()
        except IntegrityError:
            continue  # another request made one first: join it on the next turn
        record(
            session,
            org_id=org_id,
            actor=actor or Actor.system(),
            action="catalog.sync_requested",
            subject_type="catalog_sync",
            subject_id=sync.id,
        )
        queue.enqueue(session, SYNC_TASK, str(sync.id))
        return sync
    raise Conflict("a catalog sync is starting right now: try again in a moment")


def stripe_connected(session: Session, *, org_id: uuid.UUID) -> bool:
    """Whether the org has stored a Stripe secret key (checked without decrypting it)."""
    stmt = select(OrgSecret.id).where(
        OrgSecret.org_id == org_id, OrgSecret.purpose == SecretPurpose.stripe_secret_key.value
    )
    return session.scalar(stmt.limit(1)) is not None


NOT_CONNECTED = (
    "Stripe is not connected: an admin adds the secret key in Settings → Integrations → "
    "Stripe, then the catalog syncs"
)


def request_sync(session: Session, *, org_id: uuid.UUID, actor: Actor) -> CatalogSync:
    """An admin's Sync from Stripe: 409 when Stripe is not connected, else start or join."""
    if not stripe_connected(session, org_id=org_id):
        raise StripeNotConnected(NOT_CONNECTED)
    return start_sync(session, org_id=org_id, actor=actor)


def get_sync(session: Session, *, org_id: uuid.UUID, sync_id: uuid.UUID) -> CatalogSync:
    return syncs.get(session, org_id=org_id, id=sync_id)


def latest_sync(session: Session, *, org_id: uuid.UUID) -> CatalogSync | None:
    stmt = syncs.select(org_id).order_by(CatalogSync.created_at.desc(), CatalogSync.id.desc())
    return session.scalar(stmt.limit(1))


def last_success_at(session: Session, *, org_id: uuid.UUID) -> datetime | None:
    value = session.scalar(
        select(func.max(CatalogSync.finished_at)).where(
            CatalogSync.org_id == org_id, CatalogSync.status == SyncStatus.succeeded.value
        )
    )
    return as_utc(value) if value is not None else None


def summary(session: Session, *, org_id: uuid.UUID) -> dict[str, Any]:
    """`{"status", "last_sync_at", "items"}`: the latest sync's status (None if never
    synced), when a sync last succeeded (ISO 8601 or None), and the active items."""
    latest = latest_sync(session, org_id=org_id)
    last_at = last_success_at(session, org_id=org_id)
    return {
        "status": latest.status if latest else None,
        "last_sync_at": last_at.isoformat() if last_at else None,
        "items": count_items(session, org_id=org_id, active=True),
    }


# ---- what the sync job calls (it knows the sync by id only) ---------------------------------


def claim_sync(session: Session, *, sync_id: uuid.UUID) -> CatalogSync | None:
    """Mark a queued (or retried running) sync running; None when it has already ended."""
    now = utcnow()
    result = session.execute(
        sql_update(CatalogSync)
        .where(CatalogSync.id == sync_id, CatalogSync.status.in_(ACTIVE_SYNC_STATUSES))
        .values(
            status=SyncStatus.running.value,
            started_at=func.coalesce(CatalogSync.started_at, now),
            attempts=CatalogSync.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return session.get(CatalogSync, sync_id, populate_existing=True)


def record_progress(
    session: Session, *, sync_id: uuid.UUID, seen: int, total: int | None = None
) -> bool:
    """False when the sync is no longer running (it was ended elsewhere)."""
    result = session.execute(
        sql_update(CatalogSync)
        .where(CatalogSync.id == sync_id, CatalogSync.status == SyncStatus.running.value)
        .values(seen=seen, total=total, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def note_retry(session: Session, *, sync_id: uuid.UUID, message: str) -> None:
    """A transient failure: the sync stays running and says it will retry."""
    session.execute(
        sql_update(CatalogSync)
        .where(CatalogSync.id == sync_id, CatalogSync.status == SyncStatus.running.value)
        .values(error=message, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def finish_sync(session: Session, *, sync_id: uuid.UUID, seen: int) -> bool:
    now = utcnow()
    result = session.execute(
        sql_update(CatalogSync)
        .where(CatalogSync.id == sync_id, CatalogSync.status == SyncStatus.running.value)
        .values(
            status=SyncStatus.succeeded.value,
            seen=seen,
            total=seen,
            error=None,
            finished_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def _mark_failed(
    session: Session,
    sync_id: uuid.UUID,
    message: str,
    *,
    only_if_updated_before: datetime | None = None,
) -> bool:
    now = utcnow()
    stmt = sql_update(CatalogSync).where(
        CatalogSync.id == sync_id, CatalogSync.status.in_(ACTIVE_SYNC_STATUSES)
    )
    if only_if_updated_before is not None:
        stmt = stmt.where(CatalogSync.updated_at < only_if_updated_before)
    result = session.execute(
        stmt.values(
            status=SyncStatus.failed.value, error=message[:2000], finished_at=now, updated_at=now
        ).execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def fail_sync(session: Session, *, sync_id: uuid.UUID, message: str) -> bool:
    return _mark_failed(session, sync_id, message)


_FIELDS = (
    "stripe_product_id",
    "name",
    "description",
    "unit_amount",
    "currency",
    "recurring_interval",
    "recurring_interval_count",
    "active",
    "unit_amount_decimal",
    "pricing",
)


@dataclass
class UpsertResult:
    inserted: int = 0
    updated: int = 0


def _chunks(values: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _values(item: StripeItem) -> dict[str, Any]:
    return {
        "stripe_product_id": item.product_id,
        "name": item.name[:500],
        "description": item.description,
        "unit_amount": item.unit_amount,
        "currency": item.currency.upper() if item.currency else None,
        "recurring_interval": item.recurring_interval,
        "recurring_interval_count": item.recurring_interval_count,
        "active": item.active,
        "unit_amount_decimal": item.unit_amount_decimal,
        "pricing": CatalogPricing(item.pricing).value,
    }


def upsert_stripe_items(
    session: Session, *, org_id: uuid.UUID, batch: Sequence[StripeItem]
) -> UpsertResult:
    """Insert or update a batch of Stripe items by their key: (Stripe price, currency) for a
    price (one item per currency of a price with currency_options), the Stripe product for a
    product without prices. One select per key kind, one bulk insert and one bulk update.
    Unchanged rows are not written (a rerun changes nothing)."""
    result = UpsertResult()
    priced = {(i.price_id, i.currency): i for i in batch if i.price_id}
    bare = {i.product_id: i for i in batch if not i.price_id}
    cols = [CatalogItem.id, CatalogItem.stripe_price_id]
    cols += [getattr(CatalogItem, f) for f in _FIELDS]
    existing: dict[tuple[str, ...], Any] = {}
    price_ids = sorted({str(price_id) for price_id, _ in priced})
    for ids in _chunks(price_ids):
        for row in session.execute(
            select(*cols).where(CatalogItem.org_id == org_id, CatalogItem.stripe_price_id.in_(ids))
        ):
            existing[("price", row.stripe_price_id, row.currency)] = row
    for ids in _chunks(list(bare)):
        for row in session.execute(
            select(*cols).where(
                CatalogItem.org_id == org_id,
                CatalogItem.stripe_price_id.is_(None),
                CatalogItem.stripe_product_id.in_(ids),
            )
        ):
            existing[("product", row.stripe_product_id)] = row
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    wanted: list[tuple[tuple[str, ...], StripeItem]] = [
        (("price", str(price_id), str(currency)), v) for (price_id, currency), v in priced.items()
    ]
    wanted += [(("product", k), v) for k, v in bare.items()]
    for key, item in wanted:
        values = _values(item)
        found: Any = existing.get(key)
        if found is None:
            inserts.append(
                {
                    "id": new_id(),
                    "org_id": org_id,
                    "source": CatalogSource.stripe.value,
                    "stripe_price_id": item.price_id,
                    "created_at": now,
                    "updated_at": now,
                    **values,
                }
            )
            continue
        changed = {f: v for f, v in values.items() if getattr(found, f) != v}
        if changed:
            updates.append({"id": found.id, "updated_at": now, **changed})
    if inserts:
        session.execute(insert(CatalogItem), inserts)
        result.inserted = len(inserts)
    if updates:
        session.execute(sql_update(CatalogItem), updates)
        result.updated = len(updates)
    return result


def deactivate_missing(
    session: Session,
    *,
    org_id: uuid.UUID,
    seen_prices: set[tuple[str, str]],
    seen_bare_product_ids: set[str],
) -> int:
    """After a complete pass: Stripe items the pass did not see (a deleted product, a product
    that now has prices, a currency dropped from a price's currency_options) become inactive.
    `seen_prices` holds (Stripe price id, currency) pairs. Nothing is deleted."""
    rows = session.execute(
        select(
            CatalogItem.id,
            CatalogItem.stripe_price_id,
            CatalogItem.currency,
            CatalogItem.stripe_product_id,
        ).where(
            CatalogItem.org_id == org_id,
            CatalogItem.source == CatalogSource.stripe.value,
            CatalogItem.active.is_(True),
        )
    ).all()
    gone = [
        {"id": r.id, "active": False, "updated_at": utcnow()}
        for r in rows
        if (r.stripe_price_id and (r.stripe_price_id, r.currency) not in seen_prices)
        or (not r.stripe_price_id and r.stripe_product_id not in seen_bare_product_ids)
    ]
    if gone:
        session.execute(sql_update(CatalogItem), gone)
    return len(gone)


def priced_item(
    session: Session, *, org_id: uuid.UUID, item_id: uuid.UUID, currency: str, what: str
) -> CatalogItem:
    """The active catalog item with a fixed unit price in `currency`, or a 422 saying why
    it cannot be a line of `what` ("this invoice")."""
    item = items.find(session, org_id=org_id, id=item_id)
    if item is None:
        raise UnknownItem("catalog_item_id does not match any catalog item")
    if not item.active:
        raise ItemInactive(f"catalog item '{item.name}' is inactive")
    check_fixed_price(item)  # tiered, metered, custom or fractional: 422
    if item.unit_amount is None or item.currency is None:
        raise ItemUnpriced(f"catalog item '{item.name}' has no price")
    if item.currency != currency:
        raise ItemCurrency(
            f"catalog item '{item.name}' is priced in {item.currency} but {what} is in {currency}"
        )
    return item
