"""Pull an org's Products and Prices from Stripe into its service catalog.

`run_sync(sync_id)` is the body of the "stripe.catalog_sync" task. It opens its own
sessions, reads every Product, then every Price page by page (active ones, then a second pass
for the archived ones, which Stripe lists only when asked; each with its currency_options:
one catalog item per currency) (the client throttles and backs
off on 429), and writes each batch in one transaction with the sync's progress, so the
Catalog page shows items arriving and "Syncing… 120 of 250". Writes are keyed by Stripe id
and skip unchanged rows: a rerun changes nothing. Nothing is deleted; what Stripe archived
(or no longer lists) becomes inactive.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.exc import OperationalError

from regentra.catalog import service as catalog
from regentra.catalog.schemas import StripeItem
from regentra.db import session_scope
from regentra.errors import RegentraError
from regentra.integrations.stripe.amounts import unit_from_stripe
from regentra.integrations.stripe.client import OrgStripe, for_org
from regentra.models import CatalogPricing
from regentra.queue import Transient

log = structlog.get_logger(__name__)

PAGE_LIMIT = 100
BATCH = 200


class TransientSyncError(Transient):
    """Worth retrying later (Stripe or the database briefly unavailable)."""


class SyncReplaced(Exception):
    """The sync was ended elsewhere (taken as stale and replaced): stop writing."""


@dataclass(frozen=True)
class _Product:
    id: str
    name: str
    description: str | None
    active: bool


def _product(obj: dict[str, Any]) -> _Product:
    return _Product(
        id=str(obj["id"]),
        name=str(obj.get("name") or obj["id"]),
        description=obj.get("description") or None,
        active=bool(obj.get("active", True)),
    )


def _exact(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _pricing(price: dict[str, Any], charge: dict[str, Any]) -> CatalogPricing:
    recurring = price.get("recurring") or {}
    if price.get("billing_scheme") == "tiered":
        return CatalogPricing.tiered
    if recurring.get("usage_type") == "metered":
        return CatalogPricing.metered
    if charge.get("custom_unit_amount") and charge.get("unit_amount_decimal") is None:
        return CatalogPricing.custom_amount
    return CatalogPricing.per_unit


def price_items(price: dict[str, Any], product: _Product) -> list[StripeItem]:
    """The catalog items of one Stripe price: one in its currency, and one per other currency of
    its `currency_options` (listed with `expand[]=data.currency_options`). A tiered, metered or
    custom-amount price is kept with its kind (it cannot be a fixed line); a fractional
    `unit_amount_decimal` is kept exactly beside a null `unit_amount`."""
    recurring = price.get("recurring") or None
    nickname = price.get("nickname")
    name = f"{product.name} ({nickname})" if nickname else product.name
    main = str(price.get("currency") or "").lower()
    charges: dict[str, dict[str, Any]] = {main: price}
    for code, option in (price.get("currency_options") or {}).items():
        if str(code).lower() != main and isinstance(option, dict):
            charges[str(code).lower()] = option
    items = []
    for code, charge in charges.items():
        currency = code.upper() or None
        exact = _exact(charge.get("unit_amount_decimal"))
        if exact is None and charge.get("unit_amount") is not None:
            exact = Decimal(int(charge["unit_amount"]))
        pricing = _pricing(price, charge)
        if pricing == CatalogPricing.tiered:
            exact = None  # no single unit price
        minor = unit_from_stripe(exact, code) if exact is not None else None
        whole = minor is not None and minor == minor.to_integral_value()
        items.append(
            StripeItem(
                product_id=product.id,
                price_id=str(price["id"]),
                name=name,
                description=product.description,
                unit_amount=int(minor) if minor is not None and whole else None,
                currency=currency,
                recurring_interval=recurring.get("interval") if recurring else None,
                recurring_interval_count=(recurring.get("interval_count") or 1)
                if recurring
                else None,
                active=bool(price.get("active", True)) and product.active,
                unit_amount_decimal=minor,
                pricing=pricing,
            )
        )
    return items


def bare_item(product: _Product) -> StripeItem:
    return StripeItem(
        product_id=product.id,
        price_id=None,
        name=product.name,
        description=product.description,
        unit_amount=None,
        currency=None,
        recurring_interval=None,
        recurring_interval_count=None,
        active=product.active,
    )


def _product_id(price: dict[str, Any]) -> str:
    ref = price["product"]
    return str(ref["id"] if isinstance(ref, dict) else ref)


class _Writer:
    """Writes batches for one sync on a thread of its own, each batch in one transaction
    with the progress, while the caller keeps reading pages from Stripe: the database work
    overlaps the network instead of adding to it."""

    def __init__(self, sync_id: uuid.UUID, org_id: uuid.UUID, *, depth: int = 8) -> None:
        self.sync_id = sync_id
        self.org_id = org_id
        self.seen = 0
        self.total: int | None = None
        self.inserted = 0
        self.updated = 0
        self.error: BaseException | None = None
        self._queue: queue.Queue[list[StripeItem] | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="catalog-sync-writer", daemon=True)
        self._thread.start()

    def put(self, batch: list[StripeItem]) -> None:
        if self.error is not None:
            raise self.error
        if batch:
            self._queue.put(batch)

    def close(self) -> None:
        """Wait for every batch to be written; re-raise the writer's error, if any."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self.error is not None:
                continue  # failed: drain, so the reader never blocks on a full queue
            try:
                self._write(batch)
            except BaseException as exc:
                self.error = exc

    def _write(self, batch: list[StripeItem]) -> None:
        with session_scope() as session:
            result = catalog.upsert_stripe_items(session, org_id=self.org_id, batch=batch)
            seen = self.seen + len(batch)
            total = max(self.total, seen) if self.total is not None else None
            if not catalog.record_progress(session, sync_id=self.sync_id, seen=seen, total=total):
                raise SyncReplaced()
        self.seen = seen
        self.inserted += result.inserted
        self.updated += result.updated


def _batches(items: Iterator[StripeItem], size: int = BATCH) -> Iterator[list[StripeItem]]:
    batch: list[StripeItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _price_page(active: bool) -> Callable[[Any], Any]:
    """The first page of active (or archived) prices, each with its currency_options."""
    params: dict[str, Any] = {
        "limit": PAGE_LIMIT,
        "active": active,
        "expand": ["data.currency_options"],
    }
    return lambda c: c.v1.prices.list(params=params)


def pull(stripe: OrgStripe, sync_id: uuid.UUID, org_id: uuid.UUID) -> _Writer:
    """Read everything from Stripe and write it; returns the writer with its counts."""
    products: dict[str, _Product] = {}
    for obj in stripe.iterate(
        lambda c: c.v1.products.list(params={"limit": PAGE_LIMIT}), op="products.list"
    ):
        products[str(obj["id"])] = _product(obj)

    def product_of(price: dict[str, Any]) -> _Product:
        pid = _product_id(price)
        if pid not in products:  # created after the product pass: read it once
            obj = stripe.call(lambda c: c.v1.products.retrieve(pid), op="products.retrieve")
            products[pid] = _product(obj.to_dict() if hasattr(obj, "to_dict") else dict(obj))
        return products[pid]

    seen_prices: set[str] = set()
    seen_keys: set[tuple[str, str]] = set()
    priced_products: set[str] = set()

    def prices() -> Iterator[StripeItem]:
        # Stripe lists only active prices unless asked for `active=false`: a second pass reads
        # the archived ones, so a price archived before the first sync is still imported.
        for active in (True, False):
            for price in stripe.iterate(_price_page(active), op="prices.list"):
                price_id = str(price["id"])
                if price_id in seen_prices:
                    continue  # a page boundary shifted, or archived between passes: written
                seen_prices.add(price_id)
                for item in price_items(price, product_of(price)):
                    seen_keys.add((price_id, str(item.currency)))
                    priced_products.add(item.product_id)
                    yield item

    writer = _Writer(sync_id, org_id)
    try:
        for batch in _batches(prices()):
            writer.put(batch)
        bare = [bare_item(p) for pid, p in products.items() if pid not in priced_products]
        writer.total = len(seen_keys) + len(bare)  # everything is read: the total is known
        for batch in _batches(iter(bare)):
            writer.put(batch)
    finally:
        writer.close()
    with session_scope() as session:
        catalog.deactivate_missing(
            session,
            org_id=org_id,
            seen_prices=seen_keys,
            seen_bare_product_ids={p.product_id for p in bare},
        )
        if not catalog.finish_sync(session, sync_id=sync_id, seen=writer.seen):
            raise SyncReplaced()
    return writer


def run_sync(
    sync_id: uuid.UUID | str,
    *,
    max_attempts: int = 1,
    connect: Callable[[Any, uuid.UUID], OrgStripe] = for_org,
) -> str:
    """Run one catalog sync to its end; returns its final status ("succeeded", "failed", or
    "skipped" when it had already ended). A transient failure (Stripe unreachable after the
    client's own retries, the database busy) raises `TransientSyncError` so the queue retries
    it, until the sync's `max_attempts`-th run, which records the failure."""
    sync_id = uuid.UUID(str(sync_id))
    with session_scope() as session:
        sync = catalog.claim_sync(session, sync_id=sync_id)
        if sync is None:
            return "skipped"
        org_id = sync.org_id
        final_attempt = sync.attempts >= max_attempts
    bound = log.bind(sync_id=str(sync_id), org_id=str(org_id), attempt=sync.attempts)
    try:
        with session_scope() as session:
            stripe = connect(session, org_id)
        writer = pull(stripe, sync_id, org_id)
    except SyncReplaced:
        bound.warning("catalog sync was ended elsewhere (replaced as stale)")
        return "failed"
    except (RegentraError, OperationalError, Transient) as exc:
        if isinstance(exc, RegentraError):
            transient = exc.status >= 500 or exc.status == 429
            message = exc.message
        elif isinstance(exc, Transient):
            transient = True
            message = str(exc) or "Stripe is unavailable for now"
        else:
            transient = True
            message = "the database was busy or unavailable"
        if transient and not final_attempt:
            bound.warning("catalog sync will retry", error=message)
            with session_scope() as session:
                catalog.note_retry(session, sync_id=sync_id, message=f"{message}; retrying")
            raise TransientSyncError(
                message, retry_after=getattr(exc, "retry_after", None)
            ) from exc
        bound.warning("catalog sync failed", error=message)
        with session_scope() as session:
            catalog.fail_sync(session, sync_id=sync_id, message=message)
        return "failed"
    except Exception:
        bound.exception("catalog sync crashed")
        with session_scope() as session:
            catalog.fail_sync(
                session,
                sync_id=sync_id,
                message="The sync stopped on an unexpected error; it has been logged.",
            )
        return "failed"
    bound.info(
        "catalog sync finished",
        seen=writer.seen,
        inserted=writer.inserted,
        updated=writer.updated,
    )
    return "succeeded"
