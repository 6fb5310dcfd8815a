"""Agreement and catalog lines sent through the Stripe sandbox (issue 17): a line whose catalog
item has a one-time Stripe price in the invoice's currency, charged exactly quantity x that
price, goes through the price (`pricing[price]` + `quantity` on `add_lines`); a recurring
price (Stripe refuses those for invoice items), a prorated line or a changed unit price goes
as before (quantity x unit when exact, else an amount); a credit (a negative agreement line)
goes as a negative amount. Stripe's total is ours every time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from sandbox.stripe.conftest import new_key
from sqlalchemy import select

from integrations.conftest import Billing, StripeApp, connect_billing
from regentra.agreements import service as agreements
from regentra.agreements.schemas import AgreementCreate, LineCreate
from regentra.invoices import service as invoices
from regentra.invoices.schemas import InvoiceCreate
from regentra.invoices.schemas import LineCreate as InvoiceLineCreate
from regentra.kit.ids import new_id
from regentra.models import CatalogItem, Invoice, InvoiceLine, LineKind, Org, User

NOV = (date(2026, 11, 1), date(2026, 11, 30))


def _priced_org(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> tuple[Billing, dict[str, uuid.UUID], dict[str, str]]:
    """An org connected to a Stripe account with a one-time and a recurring USD price, its
    catalog synced: (billing, catalog item ids, Stripe price ids), by "once"/"monthly"."""
    key = new_key()
    client = stripe_app.sandbox.client(key)
    endpoint = client.v1.products.create(params={"name": "Managed endpoint"})
    backup = client.v1.products.create(params={"name": "Backup"})
    prices = {
        "once": client.v1.prices.create(
            params={"product": endpoint.id, "unit_amount": 1200, "currency": "usd"}
        ).id,
        "monthly": client.v1.prices.create(
            params={
                "product": backup.id,
                "unit_amount": 500,
                "currency": "usd",
                "recurring": {"interval": "month"},
            }
        ).id,
    }
    billing = connect_billing(stripe_app, key=key)  # the first Save queues a catalog sync
    assert "stripe.catalog_sync" in run_tasks()
    with billing.kit.db.session() as s:
        rows = s.scalars(select(CatalogItem).where(CatalogItem.org_id == billing.kit.org.id))
        by_price = {row.stripe_price_id: row.id for row in rows}
    return billing, {name: by_price[price] for name, price in prices.items()}, prices


def _stripe_lines(billing: Billing, sent: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    si = billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"])
    listed = billing.stripe.v1.invoices.line_items.list(si.id, {"limit": 100}).data
    return si, {line.metadata.to_dict()["regentra_line_id"]: line for line in listed}


def _price_of(line: Any) -> str | None:
    details = line.pricing.price_details
    return str(details.price) if details is not None else None


def _lines(billing: Billing, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    with billing.kit.db.session() as s:
        return list(
            s.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == invoice_id)
                .order_by(InvoiceLine.position)
            )
        )


def _send(billing: Billing, invoice_id: uuid.UUID) -> dict[str, Any]:
    with billing.kit.api() as api:
        response = api.post(f"/invoices/{invoice_id}/send")
    assert response.status_code == 200, response.text
    sent: dict[str, Any] = response.json()
    assert sent["status"] == "sent"
    return sent


def test_a_one_time_price_carries_its_lines_and_the_others_go_as_amounts(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    billing, items, prices = _priced_org(stripe_app, run_tasks)
    kit = billing.kit
    client = kit.client(name="Contoso")
    with kit.db.session() as s:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        assert org is not None and admin is not None
        agreements.create(
            s,
            org=org,
            user=admin,
            data=AgreementCreate(
                client_id=client.id,
                name="Managed services",
                starts_on=NOV[0],
                billing="arrears",
                lines=[
                    LineCreate(catalog_item_id=items["once"], quantity=25),
                    LineCreate(catalog_item_id=items["monthly"], quantity=10),
                    # From 21 November: 2 x $12.00 x 10/30 days = $8.00, prorated.
                    LineCreate(
                        catalog_item_id=items["once"],
                        description="Extra endpoint",
                        quantity=2,
                        effective_from=date(2026, 11, 21),
                    ),
                    # The agreement's own price for the item: not the Stripe price's.
                    LineCreate(catalog_item_id=items["once"], quantity=3, unit_amount=1000),
                ],
            ),
        )
        made = invoices.generate(
            s,
            org=org,
            user=admin,
            data=InvoiceCreate(client_id=client.id, period_start=NOV[0], period_end=NOV[1]),
            agreements_through=NOV[1],
        )
        # A catalog line added by hand, through the same one-time price.
        invoices.add_line(
            s,
            org=org,
            user=admin,
            invoice_id=made.id,
            data=InvoiceLineCreate(catalog_item_id=items["once"], quantity=4),
        )
        s.commit()
        invoice_id = made.id

    ours = _lines(billing, invoice_id)
    figures = [(x.kind, x.quantity, x.unit_amount, x.amount) for x in ours]
    assert figures == [
        ("agreement", 25, 1200, 30000),
        ("agreement", 10, 500, 5000),
        ("agreement", 1, 800, 800),
        ("agreement", 3, 1000, 3000),
        ("catalog", 4, 1200, 4800),
    ]
    sent = _send(billing, invoice_id)
    assert sent["total"] == 43600

    si, by_line = _stripe_lines(billing, sent)
    assert si.total == 43600 and si.amount_due == 43600
    once, monthly, prorated, own_price, by_hand = (by_line[str(x.id)] for x in ours)
    # Through the one-time price: Stripe's quantity x its unit amount, our description.
    assert _price_of(once) == prices["once"]
    assert (once.quantity, once.amount) == (25, 30000)
    assert once.description.startswith("Managed endpoint")
    assert _price_of(by_hand) == prices["once"] and (by_hand.quantity, by_hand.amount) == (4, 4800)
    # A recurring price cannot back an invoice item: no price, the same amount.
    assert _price_of(monthly) is None and monthly.amount == 5000
    assert monthly.description.startswith("Backup")
    # Prorated, and a price of the agreement's own: no Stripe price either.
    assert _price_of(prorated) is None and prorated.amount == 800
    assert "prorated" in prorated.description
    assert _price_of(own_price) is None and own_price.amount == 3000
    assert sum(line.amount for line in by_line.values()) == sent["total"]


def test_an_agreement_credit_goes_as_a_negative_amount_and_stripes_total_is_ours(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    billing, items, prices = _priced_org(stripe_app, run_tasks)
    kit = billing.kit
    client = kit.client(name="Fabrikam")
    with kit.db.session() as s:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        assert org is not None and admin is not None
        agreement = agreements.create(
            s,
            org=org,
            user=admin,
            data=AgreementCreate(
                client_id=client.id,
                name="Managed services",
                starts_on=NOV[0],
                billing="arrears",
                lines=[
                    LineCreate(catalog_item_id=items["once"], quantity=25),
                    LineCreate(description="Backup", quantity=1, unit_amount=5000),
                ],
            ),
        )
        made = invoices.generate(
            s,
            org=org,
            user=admin,
            data=InvoiceCreate(client_id=client.id, period_start=NOV[0], period_end=NOV[1]),
            agreements_through=NOV[1],
        )
        # An adjustment crediting an earlier period (as `agreements.billing.adjust` writes
        # one): a negative agreement line without a catalog item.
        invoice = s.get(Invoice, made.id)
        assert invoice is not None
        s.add(
            InvoiceLine(
                id=new_id(),
                org_id=org.id,
                invoice_id=invoice.id,
                position=3,
                kind=LineKind.agreement.value,
                description="Managed services · October 2026: adjustment, now $238.06 "
                "instead of $300.00 billed",
                quantity=1,
                unit_amount=-6194,
                amount=-6194,
                agreement_id=agreement.id,
                agreement_period_start=date(2026, 10, 1),
            )
        )
        invoice.total -= 6194
        s.commit()
        invoice_id = invoice.id

    ours = _lines(billing, invoice_id)
    assert [(x.kind, x.quantity, x.amount) for x in ours] == [
        ("agreement", 25, 30000),
        ("agreement", 1, 5000),
        ("agreement", 1, -6194),
    ]
    sent = _send(billing, invoice_id)
    assert sent["total"] == 30000 + 5000 - 6194

    si, by_line = _stripe_lines(billing, sent)
    assert si.total == sent["total"] and si.amount_due == sent["total"]
    endpoints, backup, credit = (by_line[str(x.id)] for x in ours)
    assert _price_of(endpoints) == prices["once"] and endpoints.amount == 30000
    assert _price_of(backup) is None and backup.amount == 5000
    assert _price_of(credit) is None and credit.amount == -6194
    assert credit.description.startswith("Managed services · October 2026: adjustment")
    assert sum(line.amount for line in by_line.values()) == sent["total"]
