"""Small pieces of the postings engine, without servers: QuickBooks' amounts that are not
whole minor units are refused as QuickBooks' fault (422, not a 500); one `requestid` helper
(`postings.stable_id`) makes every id, unchanged from the ids made before it; one quoting
helper for query literals; the vendor create's id moves on with time, so a Save retried
after a refusal is not refused again by replay."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from regentra.integrations.quickbooks import customers, documents, mapping, posting_kinds, postings
from regentra.integrations.quickbooks.amounts import from_qbo
from regentra.integrations.quickbooks.errors import QuickBooksRejected
from regentra.integrations.quickbooks.posting_rows import Row
from regentra.integrations.stripe.fees import StripeFee


def _sha(basis: str) -> str:
    return hashlib.sha256(basis.encode()).hexdigest()[:40]


def test_an_amount_in_fractions_of_a_cent_is_a_quickbooks_rejection() -> None:
    assert from_qbo("12.34", "USD") == 1234
    with pytest.raises(QuickBooksRejected) as refused:
        from_qbo("12.345", "USD")
    assert refused.value.status == 422 and "12.345 USD" in refused.value.message


def test_request_ids_come_from_one_helper_and_are_the_ids_made_before() -> None:
    org, invoice, client = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    row = Row(uuid.uuid4(), org, invoice, "fee", "pending", 2, 0, None, None, None)
    assert postings.request_id(row) == _sha(f"regentra:{org}:{invoice}:fee:2")
    assert len(postings.request_id(row)) == 40
    made = customers._request_id(org, "9130", client, "USD", "Acme", 1)
    assert made == _sha(f"regentra:customer:{org}:9130:{client}:USD:Acme:1")


def test_query_literals_are_quoted_in_one_place() -> None:
    assert documents.quoted("O'Brien \\ Sons") == "'O\\'Brien \\\\ Sons'"


def test_the_vendor_creates_request_id_has_a_generation() -> None:
    org = uuid.uuid4()
    at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    same = mapping._vendor_request_id(org, "9130", "Stripe", at)
    assert same == mapping._vendor_request_id(org, "9130", "stripe", at + timedelta(seconds=30))
    later = at + timedelta(seconds=mapping.VENDOR_ID_WINDOW)
    assert mapping._vendor_request_id(org, "9130", "Stripe", later) != same


def _paid(amount: int, settled: int, shown: str) -> StripeFee:
    return StripeFee(
        payment_intent_id="pi_1", charge_id="ch_1", charge_status="succeeded", amount=amount,
        currency="USD", balance_transaction_id="txn_1", fee=0, fee_details=(),
        settlement_currency="GBP", settled_amount=settled, exchange_rate=Decimal(shown),
        paid_at=None, created=None, available_on=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("amount", "settled", "shown"),
    [(100_000_000, 78_740_157, "0.787402"), (15_000, 11_811, "0.787402"), (1, 1, "0.787402")],
)
def test_stripes_rate_is_derived_to_reproduce_the_settled_amount(
    amount: int, settled: int, shown: str
) -> None:
    """$1,000,000.00 settled as £787,401.57: Stripe's shown 0.787402 would make QuickBooks'
    home amount £787,402.00; the derived rate gives the settled amount to the penny."""
    rate = posting_kinds.settlement_rate(_paid(amount, settled, shown))
    assert rate is not None
    home = (Decimal(amount).scaleb(-2) * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert home == Decimal(settled).scaleb(-2)
    reproduces = (Decimal(amount).scaleb(-2) * Decimal(shown)).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    ) == Decimal(settled).scaleb(-2)
    assert (rate == Decimal(shown)) == reproduces  # Stripe's own rate whenever it is right


def test_agreement_lines_and_covered_time_post_like_any_line_to_the_income_item() -> None:
    """Issue 17: an agreement line is mirrored as it reads on the invoice; a time line says
    how many of its minutes the agreement covered (its amount is only for the rest); all go
    on the one income item of the mapping (no kind is left out)."""
    from datetime import date

    from regentra.integrations.quickbooks.posting_facts import _line
    from regentra.models import InvoiceLine

    agreement = InvoiceLine(
        kind="agreement", description="Managed endpoint · Nov 2026", quantity=25,
        unit_amount=1200, amount=30000,
    )  # fmt: skip
    time = InvoiceLine(
        kind="time", description="Patching", quantity=1, unit_amount=15000, amount=30000,
        minutes=420, covered_minutes=300, work_date=date(2026, 11, 7),
    )  # fmt: skip
    lines = [_line(agreement), _line(time)]
    assert lines == [
        documents.Line("Managed endpoint · Nov 2026", 30000, 25, None),
        documents.Line(
            "Patching (420 min, 300 covered by the agreement)", 30000, 1, date(2026, 11, 7)
        ),
    ]
    sent = documents._sales_lines(lines, "USD", "7")
    assert [(x["Amount"], x["SalesItemLineDetail"]["ItemRef"]) for x in sent] == [
        (Decimal("300.00"), {"value": "7"}),
        (Decimal("300.00"), {"value": "7"}),
    ]


def test_a_line_of_a_mapped_catalog_item_names_its_own_item() -> None:
    """Issue 17: catalog and agreement lines carry their catalog item: mapped, the line names
    that item; unmapped (or no catalog item), the body's income item. A credit line of an
    agreement (negative) goes as it is: QuickBooks takes negative sales lines."""
    import uuid

    from regentra.integrations.quickbooks.posting_facts import _line
    from regentra.models import InvoiceLine

    firewall, backup = uuid.uuid4(), uuid.uuid4()
    items = {firewall: "12"}
    lines = [
        _line(InvoiceLine(kind=kind, description=text, quantity=1, unit_amount=amount,
                          amount=amount, catalog_item_id=catalog), items)
        for kind, text, amount, catalog in (
            ("catalog", "Firewall", 4000, firewall),
            ("agreement", "Firewall credit", -1000, firewall),
            ("agreement", "Backup seat", 500, backup),
            ("manual", "Site visit", 7500, None),
        )
    ]  # fmt: skip
    assert [x.item_id for x in lines] == ["12", "12", None, None]
    body = documents.invoice(
        number="INV-1", customer_id="3", item_id="7", lines=lines, currency="USD", home="USD",
        rate=None, txn_date=datetime(2026, 12, 1, tzinfo=UTC).date(), due_date=None, memo="m",
    )  # fmt: skip
    assert [(x["Amount"], x["SalesItemLineDetail"]["ItemRef"]["value"]) for x in body["Line"]] == [
        (Decimal("40.00"), "12"),
        (Decimal("-10.00"), "12"),
        (Decimal("5.00"), "7"),
        (Decimal("75.00"), "7"),
    ]
