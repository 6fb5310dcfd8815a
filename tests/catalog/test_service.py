"""The catalog domain on real databases: manual items, search, one active sync per org, and
a time entry's rate taken from an item."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from regentra.audit.service import Actor
from regentra.catalog import service as catalog
from regentra.catalog.schemas import CatalogItemCreate, CatalogItemUpdate, StripeItem
from regentra.errors import Conflict, Invalid
from regentra.kit.time import utcnow
from regentra.models import CatalogSync, Org, TimeEntry, User
from regentra.time_entries import service as entries
from regentra.time_entries.schemas import TimeEntryCreate, TimeEntryUpdate


def _item(kit: Any, **kw: Any) -> uuid.UUID:
    data = CatalogItemCreate(
        **{"name": "Remote support", "unit_amount": 12000, "currency": "usd", **kw}
    )
    return kit._commit(  # type: ignore[no-any-return]
        lambda s: catalog.create_manual(s, org_id=kit.org.id, data=data, actor=Actor.system()).id
    )


def _stripe(price: str | None, product: str = "prod_1", **kw: Any) -> StripeItem:
    values: dict[str, Any] = {
        "product_id": product,
        "price_id": price,
        "name": "Managed endpoint",
        "description": None,
        "unit_amount": 500 if price else None,
        "currency": "USD" if price else None,
        "recurring_interval": None,
        "recurring_interval_count": None,
        "active": True,
        **kw,
    }
    return StripeItem(**values)


def test_manual_items_search_filter_and_pages_by_name(db: Any, make_org: Any) -> None:
    kit = make_org()
    other = make_org()
    for name in ("Backup", "cloud migration", "Antivirus 100% coverage", "Onsite visit"):
        _item(kit, name=name)
    _item(kit, name="Old rate", active=False)
    _item(other, name="Backup")
    with db.session() as s:
        page = catalog.list_items(s, org_id=kit.org.id, limit=2)
        names = [i.name for i in page.items]
        while page.next_cursor:
            page = catalog.list_items(s, org_id=kit.org.id, limit=2, cursor=page.next_cursor)
            names += [i.name for i in page.items]
        assert len(names) == 5 and names == sorted(names)
        found = catalog.list_items(s, org_id=kit.org.id, q="CLOUD").items
        assert [i.name for i in found] == ["cloud migration"]
        assert [i.name for i in catalog.list_items(s, org_id=kit.org.id, q="100%").items] == [
            "Antivirus 100% coverage"
        ]
        assert catalog.list_items(s, org_id=kit.org.id, q="_").items == []  # LIKE escaped
        inactive = catalog.list_items(s, org_id=kit.org.id, active=False).items
        assert [i.name for i in inactive] == ["Old rate"]
        assert len(catalog.list_items(s, org_id=kit.org.id, active=True).items) == 4
        with pytest.raises(Invalid):
            catalog.list_items(s, org_id=kit.org.id, cursor="not-a-cursor")


def test_manual_item_rules(db: Any, make_org: Any) -> None:
    kit = make_org()
    with db.session() as s:
        with pytest.raises(Invalid, match="ISO 4217"):
            catalog.create_manual(
                s,
                org_id=kit.org.id,
                data=CatalogItemCreate(name="X", unit_amount=1, currency="ZZZ"),
                actor=Actor.system(),
            )
        with pytest.raises(Invalid, match="currency is required"):
            catalog.create_manual(
                s,
                org_id=kit.org.id,
                data=CatalogItemCreate(name="X", unit_amount=1),
                actor=Actor.system(),
            )
    item_id = _item(kit)
    with db.session() as s:
        item = catalog.update(
            s,
            org_id=kit.org.id,
            item_id=item_id,
            data=CatalogItemUpdate(unit_amount=15000, recurring_interval="month"),
            actor=Actor.system(),
        )
        assert (item.unit_amount, item.recurring_interval, item.recurring_interval_count) == (
            15000,
            "month",
            1,
        )
        s.rollback()


def test_stripe_items_are_changed_in_stripe_only(db: Any, make_org: Any) -> None:
    kit = make_org()
    with db.session() as s:
        catalog.upsert_stripe_items(s, org_id=kit.org.id, batch=[_stripe("price_1")])
        s.commit()
        item = catalog.list_items(s, org_id=kit.org.id).items[0]
        with pytest.raises(Conflict, match="change it in the Stripe Dashboard"):
            catalog.update(
                s,
                org_id=kit.org.id,
                item_id=item.id,
                data=CatalogItemUpdate(name="Mine now"),
                actor=Actor.system(),
            )


def test_upsert_is_keyed_by_stripe_id_per_org(db: Any, make_org: Any) -> None:
    a, b = make_org(), make_org()
    with db.session() as s:
        batch = [_stripe("price_1"), _stripe("price_2"), _stripe(None, "prod_2")]
        assert catalog.upsert_stripe_items(s, org_id=a.org.id, batch=batch).inserted == 3
        assert catalog.upsert_stripe_items(s, org_id=b.org.id, batch=batch).inserted == 3
        again = catalog.upsert_stripe_items(s, org_id=a.org.id, batch=batch)
        assert (again.inserted, again.updated) == (0, 0)
        changed = catalog.upsert_stripe_items(
            s, org_id=a.org.id, batch=[_stripe("price_1", unit_amount=650)]
        )
        assert (changed.inserted, changed.updated) == (0, 1)
        s.commit()
        assert catalog.count_items(s, org_id=a.org.id) == 3
        # The db itself refuses a second row for a price in a currency or a price-less
        # product, and a price's row without a currency (its currency is part of its key).
        nameless = _stripe("price_3", currency=None)
        for dup in (_stripe("price_1"), _stripe(None, "prod_2"), nameless):
            with pytest.raises(IntegrityError), s.begin_nested():
                from sqlalchemy import insert

                from regentra.models import CatalogItem

                s.execute(
                    insert(CatalogItem).values(
                        org_id=a.org.id,
                        name="dup",
                        source="stripe",
                        active=True,
                        stripe_product_id=dup.product_id,
                        stripe_price_id=dup.price_id,
                        currency=dup.currency,
                    )
                )
        # The same price in another currency (its currency_options) is another item.
        other = catalog.upsert_stripe_items(
            s, org_id=a.org.id, batch=[_stripe("price_1", currency="EUR", unit_amount=450)]
        )
        assert (other.inserted, other.updated) == (1, 0)
        assert catalog.count_items(s, org_id=a.org.id) == 4
        s.rollback()


def test_one_active_sync_per_org_and_a_stale_one_is_replaced(db: Any, make_org: Any) -> None:
    kit = make_org()
    with db.session() as s:
        first = catalog.start_sync(s, org_id=kit.org.id)
        s.commit()
        assert catalog.start_sync(s, org_id=kit.org.id).id == first.id  # joins
        s.commit()
        # The partial unique index refuses a second queued/running row outright.
        with pytest.raises(IntegrityError), s.begin_nested():
            s.add(CatalogSync(org_id=kit.org.id, status="running", seen=0))
            s.flush()
        s.rollback()
        # A sync that has not moved for longer than STALE_AFTER is taken as dead.
        s.execute(
            update(CatalogSync)
            .where(CatalogSync.id == first.id)
            .values(updated_at=utcnow() - catalog.STALE_AFTER - timedelta(seconds=5))
        )
        s.commit()
        second = catalog.start_sync(s, org_id=kit.org.id)
        s.commit()
        assert second.id != first.id
        old = s.get(CatalogSync, first.id, populate_existing=True)
        assert old is not None and old.status == "failed" and "interrupted" in (old.error or "")
        summary = catalog.summary(s, org_id=kit.org.id)
        assert summary == {"status": "queued", "last_sync_at": None, "items": 0}


def _entry(db: Any, kit: Any, user: User, ticket: Any, **kw: Any) -> TimeEntry:
    with db.session() as s:
        org = s.get(Org, kit.org.id)
        who = s.get(User, user.id)
        data = TimeEntryCreate(ticket_id=ticket.id, work_date=date.today(), minutes=90, **kw)
        entry = entries.create(s, org=org, user=who, data=data)
        s.commit()
        return entry


def test_a_time_entry_copies_its_rate_from_a_catalog_item(db: Any, make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    ticket = kit.ticket(kit.client(currency="USD", hourly_rate=10000))
    item_id = _item(kit, name="After-hours support", unit_amount=18000)
    entry = _entry(db, kit, tech, ticket, catalog_item_id=item_id)
    assert (entry.hourly_rate, entry.catalog_item_id, entry.currency) == (18000, item_id, "USD")
    # Later changes to the item do not alter the entry.
    kit._commit(
        lambda s: catalog.update(
            s,
            org_id=kit.org.id,
            item_id=item_id,
            data=CatalogItemUpdate(unit_amount=25000),
            actor=Actor.system(),
        )
    )
    with db.session() as s:
        kept = s.get(TimeEntry, entry.id)
        assert kept is not None and kept.hourly_rate == 18000
        # Editing something else keeps the copied rate and the item.
        org, who = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        edited = entries.edit(
            s,
            org=org,
            user=who,
            entry_id=entry.id,
            data=TimeEntryUpdate(description="Server reboot", hourly_rate=18000),
        )
        assert (edited.hourly_rate, edited.catalog_item_id) == (18000, item_id)
        # Removing the item falls back to the client's rate.
        edited = entries.edit(
            s, org=org, user=who, entry_id=entry.id, data=TimeEntryUpdate(catalog_item_id=None)
        )
        assert (edited.hourly_rate, edited.catalog_item_id) == (10000, None)
        s.commit()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"active": False}, "is inactive"),
        ({"recurring_interval": "month"}, "recurring"),
        ({"currency": "EUR"}, "priced in EUR but the client is billed in USD"),
        ({"unit_amount": None, "currency": None}, "has no price"),
    ],
)
def test_an_unusable_catalog_item_is_422(
    db: Any, make_org: Any, item: dict[str, Any], message: str
) -> None:
    kit = make_org()
    ticket = kit.ticket(kit.client(currency="USD"))
    item_id = _item(kit, **item)
    with pytest.raises(Invalid, match=message):
        _entry(db, kit, kit.admin, ticket, catalog_item_id=item_id)


def test_another_orgs_item_is_unknown(db: Any, make_org: Any) -> None:
    kit, other = make_org(), make_org()
    ticket = kit.ticket(kit.client(currency="USD"))
    foreign = _item(other)
    with pytest.raises(Invalid, match="does not match any catalog item"):
        _entry(db, kit, kit.admin, ticket, catalog_item_id=foreign)
    with pytest.raises(Invalid, match="either hourly_rate or catalog_item_id"):
        _entry(db, kit, kit.admin, ticket, catalog_item_id=_item(kit), hourly_rate=1)
