"""What the pages show of agreements beside other things: the client page's Agreements
section (the client's agreements and what the New agreement form offers), and the catalog
items a line can bill. Shared by `views.clients` and `views.agreements`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from regentra.agreements import service
from regentra.catalog import service as catalog
from regentra.catalog.lines import fixed_price_items
from regentra.models import CatalogItem, Client

PERIODS = (("monthly", "Monthly"), ("quarterly", "Quarterly"), ("yearly", "Yearly"))
BILLINGS = (("advance", "In advance"), ("arrears", "In arrears"))


def catalog_items(session: Session, org_id: uuid.UUID, currency: str) -> list[CatalogItem]:
    """Active items with a fixed price in the client's currency: what a line can bill."""
    page = catalog.list_items(session, org_id=org_id, active=True, limit=200)
    priced = [i for i in page.items if i.unit_amount is not None and i.currency == currency]
    return fixed_price_items(priced)


def client_section(session: Session, *, org_id: uuid.UUID, client: Client) -> dict[str, Any]:
    return {
        "agreements": service.list_agreements(session, org_id=org_id, client_id=client.id),
        "catalog_items": catalog_items(session, org_id, client.currency),
        "periods": PERIODS,
        "billings": BILLINGS,
    }
