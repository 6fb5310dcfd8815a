"""Money at the Stripe boundary, through the API against the Stripe sandbox (both databases):
ISK and KWD invoices send Stripe's amounts; an invoice below the currency's minimum charge is
refused; a customer's coupon in Stripe is not inherited; a customer's credit balance is
shown as applied and the amount due is what gets paid; a debit balance stops the send; a
client currency Stripe does not support is refused (API and form)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import OrgKit
from web.pages import PageClient, form_error

from integrations.conftest import Billing, StripeApp, connect_billing
from integrations.stripe.test_sending import stripe_objects
from regentra.models import Invoice


def draft(
    billing: Billing,
    *,
    client: Any = None,
    currency: str = "USD",
    rate: int = 12000,
    minutes: int = 90,
) -> tuple[Any, dict[str, Any]]:
    """A draft billing one approved entry of a (new) client."""
    kit = billing.kit
    client = client or kit.client(hourly_rate=rate, currency=currency)
    ticket = kit.ticket(client)
    tech, approver = kit.add_user("technician"), kit.add_user("approver")
    kit.entry(tech, ticket=ticket, minutes=minutes, status="approved", approver=approver)
    with kit.api() as api:
        response = api.post("/invoices", json={"client_id": str(client.id)})
    assert response.status_code == 201, response.text
    return client, response.json()


def send(billing: Billing, invoice: dict[str, Any]) -> Any:
    with billing.kit.api() as api:
        return api.post(f"/invoices/{invoice['id']}/send")


def get(billing: Billing, invoice: dict[str, Any]) -> dict[str, Any]:
    with billing.kit.api() as api:
        body: dict[str, Any] = api.get(f"/invoices/{invoice['id']}").json()
    return body


def pay_and_reconcile(billing: Billing, stripe_invoice_id: str) -> dict[str, Any]:
    """Pay in Stripe (the sandbox's hosted-page payment), then let reconciliation find it
    (the in-process app gets no webhooks)."""
    with billing.control() as control:
        control.post(f"/_sandbox/invoices/{stripe_invoice_id}/pay").raise_for_status()
    with billing.kit.api() as api:
        run = api.post("/integrations/stripe/reconcile")
    assert run.status_code == 200 and run.json()["ok"], run.text
    body: dict[str, Any] = run.json()
    return body


def test_isk_invoice_sends_amounts_times_100(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    # 15,000 kr an hour for 90 minutes: 22,500 kr, which is 2,250,000 in Stripe's API.
    client, invoice = draft(billing, currency="ISK", rate=15000, minutes=90)
    assert invoice["total"] == 22500
    response = send(billing, invoice)
    assert response.status_code == 200, response.text
    sent = response.json()
    assert (sent["status"], sent["total"], sent["amount_due"], sent["credit_applied"]) == (
        "sent",
        22500,
        22500,
        0,
    )
    found = stripe_objects(billing, str(client.id))
    assert [item.amount for item in found["items"]] == [2250000]
    (stripe_invoice,) = found["invoices"]
    assert (stripe_invoice.currency, stripe_invoice.total) == ("isk", 2250000)
    assert stripe_invoice.amount_due == 2250000
    report = pay_and_reconcile(billing, sent["stripe_invoice_id"])
    assert report["paid"] == [invoice["number"]]
    paid = get(billing, invoice)
    assert (paid["status"], paid["amount_paid"]) == ("paid", 22500)  # not 2,250,000


def test_kwd_lines_are_rounded_to_multiples_of_10(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    # 12.345 KWD an hour for 50 minutes is 10.2875: rounded half up to 10.290.
    client, invoice = draft(billing, currency="KWD", rate=12345, minutes=50)
    assert invoice["total"] == 10290
    with billing.kit.api() as api:
        line = api.post(
            f"/invoices/{invoice['id']}/lines",
            json={"description": "Patch cables", "unit_amount": 1005, "quantity": 3},
        )
    assert line.status_code == 201, line.text
    assert get(billing, invoice)["total"] == 10290 + 3020  # 3 x 1.005 = 3.015 → 3.020
    response = send(billing, invoice)
    assert response.status_code == 200, response.text
    found = stripe_objects(billing, str(client.id))
    assert sorted(item.amount for item in found["items"]) == [3020, 10290]
    assert all(item.amount % 10 == 0 for item in found["items"])
    assert found["invoices"][0].total == 13310
    assert response.json()["amount_due"] == 13310


def test_an_invoice_below_the_minimum_charge_is_refused(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    # 18.00 an hour for 1 minute: $0.30, below Stripe's $0.50.
    client, invoice = draft(billing, rate=1800, minutes=1)
    assert invoice["total"] == 30
    response = send(billing, invoice)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "below_minimum_charge"
    assert "$0.30" in error["message"] and "$0.50" in error["message"]
    assert get(billing, invoice)["status"] == "draft"
    found = stripe_objects(billing, str(client.id))
    assert found["customers"] == [] and found["invoices"] == []


def _customer_id(billing: Billing, client: Any) -> str:
    (customer,) = stripe_objects(billing, str(client.id))["customers"]
    return str(customer.id)


def test_a_customer_coupon_in_stripe_is_not_inherited(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    client, first = draft(billing)
    assert send(billing, first).status_code == 200
    customer = _customer_id(billing, client)
    coupon = billing.stripe.v1.coupons.create(params={"percent_off": 50, "duration": "forever"})
    with billing.control() as control:
        applied = control.post(
            f"/_sandbox/customers/{customer}/discount", data={"coupon": coupon.id}
        )
    assert applied.status_code == 200, applied.text

    _, second = draft(billing, client=client, minutes=60)
    response = send(billing, second)
    assert response.status_code == 200, response.text
    sent = response.json()
    assert (sent["total"], sent["amount_due"], sent["credit_applied"]) == (12000, 12000, 0)
    stripe_invoice = billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"])
    assert stripe_invoice.discounts == [] and stripe_invoice.total_discount_amounts == []
    assert (stripe_invoice.total, stripe_invoice.amount_due) == (12000, 12000)
    # The coupon is still the customer's (it would have discounted an inheriting invoice).
    assert billing.stripe.v1.customers.retrieve(customer).discount is not None


def test_a_credit_balance_is_shown_and_the_amount_due_is_paid(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    client, first = draft(billing)
    assert send(billing, first).status_code == 200
    customer = _customer_id(billing, client)
    billing.stripe.v1.customers.balance_transactions.create(
        customer, params={"amount": -5000, "currency": "usd", "description": "goodwill"}
    )

    _, invoice = draft(billing, client=client, minutes=90)  # $180.00
    response = send(billing, invoice)
    assert response.status_code == 200, response.text
    sent = response.json()
    assert (sent["status"], sent["total"]) == ("sent", 18000)
    assert (sent["amount_due"], sent["credit_applied"]) == (13000, 5000)
    stripe_invoice = billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"])
    assert (stripe_invoice.starting_balance, stripe_invoice.amount_due) == (-5000, 13000)

    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        shown = page.get(f"/invoices/{invoice['id']}")
    assert shown.status_code == 200
    assert 'id="invoice-credit" data-credit="5000" data-due="13000"' in shown.text
    assert "Credit applied in Stripe" in shown.text and "$50.00, due $130.00" in shown.text

    pay_and_reconcile(billing, sent["stripe_invoice_id"])
    paid = get(billing, invoice)
    assert (paid["status"], paid["amount_paid"]) == ("paid", 13000)


def test_an_invoice_a_credit_balance_covers_is_answered_paid_when_sent(
    stripe_app: StripeApp,
) -> None:
    """Stripe marks an invoice with nothing due paid when it is finalized: the send answers
    with our invoice paid (the session's copy reads the transition), nothing left to pay."""
    billing = connect_billing(stripe_app)
    client, first = draft(billing)
    assert send(billing, first).status_code == 200
    billing.stripe.v1.customers.balance_transactions.create(
        _customer_id(billing, client),
        params={"amount": -20000, "currency": "usd", "description": "prepaid"},
    )
    _, invoice = draft(billing, client=client, minutes=90)  # $180.00, all of it covered
    response = send(billing, invoice)
    assert response.status_code == 200, response.text
    sent = response.json()
    assert (sent["status"], sent["amount_due"], sent["amount_paid"]) == ("paid", 0, 0)
    assert get(billing, invoice)["status"] == "paid"


def test_a_balance_owed_in_stripe_stops_the_send(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    client, first = draft(billing)
    assert send(billing, first).status_code == 200
    customer = _customer_id(billing, client)
    billing.stripe.v1.customers.balance_transactions.create(
        customer, params={"amount": 2000, "currency": "usd"}
    )
    _, invoice = draft(billing, client=client, minutes=60)
    response = send(billing, invoice)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "stripe_total_mismatch"
    assert "would ask $140.00" in error["message"] and "owes" in error["message"]
    assert "send again" in error["message"]
    assert get(billing, invoice)["status"] == "draft"
    # Stopped before any line was added: the Stripe invoice is an empty draft, not finalized.
    stripe_id = get(billing, invoice)["stripe_invoice_id"]
    left = billing.stripe.v1.invoices.retrieve(stripe_id)
    assert (left.status, left.total) == ("draft", 0)
    # Stripe did not email it.
    sent_events = billing.stripe.v1.events.list(params={"type": "invoice.sent", "limit": 100})
    assert len(sent_events.data) == 1  # the first invoice's only


def test_a_currency_stripe_does_not_support_is_refused(make_org: Any, site: Any) -> None:
    kit: OrgKit = make_org()
    with kit.api() as api:
        response = api.post(
            "/clients", json={"name": "Tehran", "billing_email": "ap@t.example", "currency": "IRR"}
        )
        assert response.status_code == 422, response.text
        message = response.json()["error"]["message"]
        assert "IRR" in message and "Stripe" in message
        ok = api.post(
            "/clients",
            json={"name": "Reykjavik", "billing_email": "ap@r.example", "currency": "isk"},
        )
        assert ok.status_code == 201 and ok.json()["currency"] == "ISK"
        patched = api.patch(f"/clients/{ok.json()['id']}", json={"currency": "IRR"})
        assert patched.status_code == 422, patched.text
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get("/clients")
        form = page.post(
            "/clients",
            {
                "name": "Tehran",
                "billing_email": "ap@t.example",
                "currency": "IRR",
                "hourly_rate": "100",
            },
        )
    assert form.status_code == 422
    assert "not one Stripe can charge in" in (form_error(form.text) or "")


def test_a_credit_covering_the_whole_invoice(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    client, first = draft(billing)
    assert send(billing, first).status_code == 200
    customer = _customer_id(billing, client)
    billing.stripe.v1.customers.balance_transactions.create(
        customer, params={"amount": -20000, "currency": "usd"}
    )
    _, invoice = draft(billing, client=client, minutes=60)  # $120.00
    response = send(billing, invoice)
    assert response.status_code == 200, response.text
    sent = response.json()
    # Stripe paid it at finalization (by the credit): it is paid here at once, not an hour
    # later by reconciliation.
    assert (sent["status"], sent["amount_due"], sent["credit_applied"]) == ("paid", 0, 12000)
    assert sent["amount_paid"] == 0
    stripe_invoice = billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"])
    assert (stripe_invoice.status, stripe_invoice.ending_balance) == ("paid", -8000)
    with billing.kit.api() as api:
        run = api.post("/integrations/stripe/reconcile")
    assert run.status_code == 200 and run.json()["paid"] == [], run.text


def test_a_credit_leaving_less_than_the_minimum_due_stops_the_send(stripe_app: StripeApp) -> None:
    """$2.00 billed, $1.70 credit in Stripe: $0.30 would be due, below Stripe's $0.50, and
    Stripe would mark it paid and carry the $0.30 to the client's balance, so the send stops
    while the Stripe invoice is still a draft."""
    billing = connect_billing(stripe_app)
    client, first = draft(billing)
    assert send(billing, first).status_code == 200
    customer = _customer_id(billing, client)
    billing.stripe.v1.customers.balance_transactions.create(
        customer, params={"amount": -170, "currency": "usd"}
    )
    _, invoice = draft(billing, client=client, minutes=1)  # 1 minute at $120/h: $2.00
    response = send(billing, invoice)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "below_minimum_charge"
    assert "$1.70" in error["message"] and "$0.30" in error["message"]
    assert get(billing, invoice)["status"] == "draft"
    left = billing.stripe.v1.invoices.retrieve(get(billing, invoice)["stripe_invoice_id"])
    assert left.status == "draft"
    assert billing.stripe.v1.customers.retrieve(customer).balance == -170  # untouched


@pytest.mark.parametrize("found_by", ["metadata", "stored id"])
def test_a_stripe_draft_left_with_an_inherited_coupon_is_cleared(
    stripe_app: StripeApp, found_by: str
) -> None:
    """A draft an earlier attempt made (found again by its metadata, or by the Stripe id an
    attempt noted) that inherited the customer's coupon and has no number loses the coupon
    and gets our number when the send resumes, so the totals still match."""
    billing = connect_billing(stripe_app)
    client, first = draft(billing)
    assert send(billing, first).status_code == 200
    customer = _customer_id(billing, client)
    coupon = billing.stripe.v1.coupons.create(params={"percent_off": 50, "duration": "forever"})
    with billing.control() as control:
        control.post(
            f"/_sandbox/customers/{customer}/discount", data={"coupon": coupon.id}
        ).raise_for_status()
    _, invoice = draft(billing, client=client, minutes=60)
    left = billing.stripe.v1.invoices.create(
        params={
            "customer": customer,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "auto_advance": False,
            "metadata": {"regentra_invoice_id": invoice["id"]},
        }
    )
    assert left.discounts  # inherited
    if found_by == "stored id":

        def note(session: Any) -> None:
            session.execute(
                sa.update(Invoice)
                .where(Invoice.id == uuid.UUID(invoice["id"]))
                .values(stripe_invoice_id=left.id)
            )

        billing.kit._commit(note)
    response = send(billing, invoice)
    assert response.status_code == 200, response.text
    assert response.json()["stripe_invoice_id"] == left.id
    resumed = billing.stripe.v1.invoices.retrieve(left.id)
    assert resumed.discounts == [] and (resumed.total, resumed.amount_due) == (12000, 12000)
    assert resumed.number == invoice["number"]


def test_an_invoice_in_a_currency_stripe_cannot_charge_is_refused_at_send(
    stripe_app: StripeApp,
) -> None:
    """A client made before currencies were limited to Stripe's (IRR, written straight to the
    database here): its invoice is refused at send with a 409 naming the currency, not a 500,
    and nothing reaches Stripe."""
    billing = connect_billing(stripe_app)
    _, invoice = draft(billing)
    kit = billing.kit

    def to_irr(session: Any) -> None:
        session.execute(
            sa.update(Invoice).where(Invoice.id == uuid.UUID(invoice["id"])).values(currency="IRR")
        )

    kit._commit(to_irr)

    def requests() -> int:
        with billing.control() as control:
            log = control.get("/_sandbox/requests", params={"limit": 10000}).json()
        return len(log["data"])

    before = requests()
    response = send(billing, invoice)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "currency_not_supported_by_stripe"
    assert "IRR" in error["message"]
    assert requests() == before
    assert get(billing, invoice)["status"] == "draft"
