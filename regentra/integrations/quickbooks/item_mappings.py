"""Income items per catalog item (issue 17): on the QuickBooks mapping, each of the org's
active catalog items may name the QuickBooks item its invoice lines post to (catalog and
agreement lines carry `catalog_item_id`); a line without one, or whose catalog item has no
item chosen, posts to the mapping's income item.

- `CatalogItemIncome`: one choice in `MappingBody.catalog_items` (`quickbooks_item_id` null:
  back to the default). Catalog items not named keep what they had.
- `check_catalog(session, org_id=, choices=)`: before QuickBooks is asked, every catalog item
  must be one of the org's active catalog items (another org's, an inactive or an unknown
  one: 422 naming it).
- `problems(choices, company)`: every item must be an active Service or Non-inventory item of
  the connected company (the income item's rule), in words per choice.
- `store(...)`: the choices written (one row per org and catalog item).
- `listed(session, org_id=, realm_id=)`: what the card and the API show: each active catalog
  item with its chosen item (null: the default).
- `for_postings(session, org_id=, realm_id=)`: catalog item id → QuickBooks item id, for the
  postings (rows kept from another company are not used).
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.errors import Invalid
from regentra.models import CatalogItem, QuickBooksItemMapping


class CatalogItemIncome(BaseModel):
    """The QuickBooks item one catalog item's invoice lines post to."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    catalog_item_id: uuid.UUID = Field(description="One of the org's active catalog items")
    quickbooks_item_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="A Service or Non-inventory item (the income item's choices); null: the "
        "mapping's income item",
    )


def _field(index: int) -> str:
    return f"catalog_items[{index}]"


def _invalid(problems: list[dict[str, str]]) -> Invalid:
    return Invalid(
        "; ".join(f"{p['field']}: {p['message']}" for p in problems),
        code="quickbooks_mapping_invalid",
        details={"fields": problems},
    )


def active_catalog(session: Session, *, org_id: uuid.UUID) -> list[CatalogItem]:
    """The org's active catalog items, by name."""
    return list(
        session.scalars(
            select(CatalogItem)
            .where(CatalogItem.org_id == org_id, CatalogItem.active.is_(True))
            .order_by(CatalogItem.name, CatalogItem.id)
        )
    )


def check_catalog(
    session: Session, *, org_id: uuid.UUID, choices: list[CatalogItemIncome]
) -> dict[uuid.UUID, str]:
    """Each choice names one of the org's active catalog items, once: their names by id."""
    active = {c.id: c.name for c in active_catalog(session, org_id=org_id)}
    problems: list[dict[str, str]] = []
    seen: set[uuid.UUID] = set()
    for index, choice in enumerate(choices):
        if choice.catalog_item_id in seen:
            message = "this catalog item is named twice"
        elif choice.catalog_item_id not in active:
            message = (
                f"there is no active catalog item with id {str(choice.catalog_item_id)!r} "
                "in this organization"
            )
        else:
            seen.add(choice.catalog_item_id)
            continue
        problems.append({"field": _field(index), "message": message})
    if problems:
        raise _invalid(problems)
    return active


def problems(
    choices: list[CatalogItemIncome], why: Any, names: dict[uuid.UUID, str]
) -> list[dict[str, str]]:
    """Why each chosen item cannot be an income item (`why(item_id)`: the mapping's own check
    for the income item, None when it can; `names`: the catalog items' names)."""
    out = []
    for index, choice in enumerate(choices):
        if choice.quickbooks_item_id is not None and (reason := why(choice.quickbooks_item_id)):
            name = names.get(choice.catalog_item_id, "")
            out.append({"field": _field(index), "message": f"{name}: {reason}"})
    return out


def store(
    session: Session,
    *,
    org_id: uuid.UUID,
    realm_id: str,
    choices: list[CatalogItemIncome],
    items: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Write the choices (`items`: the company's items by id); what changed, for the audit."""
    rows = {
        row.catalog_item_id: row
        for row in session.scalars(
            select(QuickBooksItemMapping).where(QuickBooksItemMapping.org_id == org_id)
        )
    }
    changed: list[dict[str, Any]] = []
    for choice in choices:
        row = rows.get(choice.catalog_item_id)
        if choice.quickbooks_item_id is None:
            if row is not None:
                session.delete(row)
                changed.append({"catalog_item_id": str(choice.catalog_item_id), "item": None})
            continue
        item = items[choice.quickbooks_item_id]
        if row is None:
            row = QuickBooksItemMapping(org_id=org_id, catalog_item_id=choice.catalog_item_id)
            session.add(row)
        elif row.realm_id == realm_id and row.quickbooks_item_id == item["id"]:
            continue
        row.realm_id = realm_id
        row.quickbooks_item_id = item["id"]
        row.quickbooks_item_name = item["name"][:255]
        changed.append(
            {
                "catalog_item_id": str(choice.catalog_item_id),
                "item": {"id": item["id"], "name": item["name"]},
            }
        )
    return changed


def _rows(session: Session, org_id: uuid.UUID, realm_id: str | None) -> list[QuickBooksItemMapping]:
    if realm_id is None:
        return []
    return list(
        session.scalars(
            select(QuickBooksItemMapping).where(
                QuickBooksItemMapping.org_id == org_id, QuickBooksItemMapping.realm_id == realm_id
            )
        )
    )


def listed(session: Session, *, org_id: uuid.UUID, realm_id: str | None) -> list[dict[str, Any]]:
    """Each active catalog item with the QuickBooks item its lines post to (None: the
    mapping's income item)."""
    chosen = {row.catalog_item_id: row for row in _rows(session, org_id, realm_id)}
    out = []
    for item in active_catalog(session, org_id=org_id):
        row = chosen.get(item.id)
        out.append(
            {
                "catalog_item_id": item.id,
                "name": item.name,
                "currency": item.currency.upper() if item.currency else None,
                "quickbooks_item_id": row.quickbooks_item_id if row else None,
                "quickbooks_item_name": row.quickbooks_item_name if row else None,
            }
        )
    return out


def for_postings(
    session: Session, *, org_id: uuid.UUID, realm_id: str | None
) -> dict[uuid.UUID, str]:
    """Catalog item id → the QuickBooks item its lines post to, in the connected company."""
    return {row.catalog_item_id: row.quickbooks_item_id for row in _rows(session, org_id, realm_id)}
