"""PSA → Invoices as a browser without JavaScript uses it: plain form posts with CSRF against a
real `regentra serve` (SQLite and PostgreSQL); sending and voiding against the Stripe sandbox."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from conftest import OrgKit
from integrations.conftest import StripeApp, connect_billing
from sqlalchemy import func, select, update

from regentra.audit.service import Actor
from regentra.catalog import service as catalog
from regentra.catalog.schemas import CatalogItemCreate
from regentra.invoices import service as invoices
from regentra.invoices import transitions
from regentra.invoices.schemas import InvoiceCreate
from regentra.models import Client, Invoice, InvoiceLine, Org, Ticket, TimeEntry, User
from web.pages import PageClient, flash, form_error, misaligned_headers

_ROW = re.compile(r'<tr data-invoice-id="([^"]+)" data-status="(\w+)">')
_LINE = re.compile(r'data-line-id="([^"]+)" data-kind="(\w+)" data-amount="(\d+)"')
_TOTAL = re.compile(r'id="invoice-total" data-amount="(\d+)"')


@dataclass
class World:
    kit: OrgKit
    client: Client
    ticket: Ticket
    tech: User
    approver: User
    entries: list[TimeEntry]


def world(kit: OrgKit, *minutes: int, currency: str = "USD") -> World:
    """A client billed at 120.00/h with approved entries of `minutes` each (today)."""
    client = kit.client(hourly_rate=12000, currency=currency)
    ticket = kit.ticket(client, title=f"Server room {uuid.uuid4().hex[:4]}")
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    made = [
        kit.entry(tech, ticket=ticket, minutes=m, status="approved", approver=approver)
        for m in minutes
    ]
    return World(kit, client, ticket, tech, approver, made)


def draft(w: World) -> Invoice:
    """A draft made through the service, as the Create button would."""

    def make(s: Any) -> Invoice:
        org = s.get(Org, w.kit.org.id)
        admin = s.get(User, w.kit.admin.id)
        return invoices.generate(s, org=org, user=admin, data=InvoiceCreate(client_id=w.client.id))

    return w.kit._commit(make)  # type: ignore[no-any-return]


def db_invoice(kit: OrgKit, invoice_id: Any) -> Invoice | None:
    with kit.db.session() as s:
        return s.get(Invoice, invoice_id)


def linked(kit: OrgKit, entry: TimeEntry) -> Any:
    with kit.db.session() as s:
        found = s.get(TimeEntry, entry.id)
        assert found is not None
        return found.invoice_id


def total_on(page_html: str) -> int:
    found = _TOTAL.search(page_html)
    assert found, "the invoice page shows its total"
    return int(found.group(1))


def test_preview_then_create_a_draft(make_org: Any, site: Any) -> None:
    kit = make_org()
    w = world(kit, 90, 60)
    with kit.db.session() as s:  # the second entry was worked in January
        s.execute(
            update(TimeEntry)
            .where(TimeEntry.id == w.entries[1].id)
            .values(work_date=date(2024, 1, 15))
        )
        s.commit()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        listing = page.get("/invoices").text
        assert 'href="/invoices/new"' in listing and 'id="no-invoices"' in listing
        start = page.get("/invoices/new").text
        assert f'data-client-id="{w.client.id}" data-entries="2"' in start  # ready to invoice

        r = page.get("/invoices/new", params={"client_id": str(w.client.id)})
        assert r.status_code == 200
        preview = r.text
        assert 'data-total="30000"' in preview and 'data-lines="2"' in preview
        for entry in w.entries:
            assert f'data-entry-id="{entry.id}"' in preview
        assert "2024-01-15" in preview and date.today().isoformat() in preview
        assert html.escape(w.ticket.title) in preview and w.tech.name in preview
        assert ">1:30<" in preview and "$120.00/h" in preview
        assert "$180.00" in preview and "$120.00" in preview and "$300.00" in preview
        assert 'id="create-invoice"' in preview

        # A period narrows the preview to the entries worked in it.
        january = {"client_id": str(w.client.id), "period_start": "2024-01-01"}
        r = page.get("/invoices/new", params={**january, "period_end": "2024-01-31"})
        assert 'data-total="12000"' in r.text and 'data-lines="1"' in r.text
        r = page.get("/invoices/new", params={**january, "period_end": "2023-12-31"})
        assert r.status_code == 422
        assert "must not be after" in (form_error(r.text) or "")
        r = page.get("/invoices/new", params={"client_id": "nope"})
        assert r.status_code == 422 and "Choose a client" in (form_error(r.text) or "")

        # A refused Create keeps the preview and what was typed, to fix and try again.
        r = page.post(
            "/invoices",
            {"client_id": str(w.client.id), "days_until_due": "400", "memo": "Thanks, Bob"},
        )
        assert r.status_code == 422 and "0 to 365" in (form_error(r.text) or "")
        assert 'id="create-invoice"' in r.text and 'data-total="30000"' in r.text
        assert 'value="400"' in r.text and "Thanks, Bob" in r.text

        # Create: a draft of both entries, and its page.
        r = page.post("/invoices", {"client_id": str(w.client.id), "days_until_due": "14"})
        assert r.status_code == 303, form_error(r.text)
        invoice_id = r.headers["location"].rsplit("/", 1)[1]
        detail = page.follow(r).text
        kind, message = flash(detail) or ("", "")
        assert kind == "success" and "created with 2 lines, $300.00 in all" in message
        assert f'data-invoice-id="{invoice_id}" data-status="draft"' in detail
        assert total_on(detail) == 30000 and "Net 14 days" in detail
        assert len(_LINE.findall(detail)) == 2
        assert 'data-action="invoice.created"' in detail and "Draft created: 2 lines" in detail
        for entry in w.entries:
            assert str(linked(kit, entry)) == invoice_id

        # Nothing left to bill: the preview and the Create button both say so in words.
        again = page.get("/invoices/new", params={"client_id": str(w.client.id)}).text
        assert 'id="nothing-to-bill"' in again and 'id="create-invoice"' not in again
        r = page.post("/invoices", {"client_id": str(w.client.id)})
        assert r.status_code == 409
        message = form_error(r.text) or ""
        assert "has no approved, billable, uninvoiced time" in html.unescape(message)
        assert "Traceback" not in r.text

        listing = page.get("/invoices").text
        assert _ROW.findall(listing) == [(invoice_id, "draft")]
    with kit.db.session() as s:
        count = s.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.org_id == kit.org.id)
        )
        assert count == 1  # the refused generations wrote nothing
        saved = s.get(Invoice, uuid.UUID(invoice_id))
        assert saved is not None and saved.days_until_due == 14 and saved.total == 30000


def test_edit_terms_memo_and_lines_then_delete(make_org: Any, site: Any) -> None:
    kit = make_org()
    w = world(kit, 90, 60)
    invoice = draft(w)
    item = kit._commit(
        lambda s: catalog.create_manual(
            s,
            org_id=kit.org.id,
            data=CatalogItemCreate(name="Firewall license", unit_amount=2500, currency="USD"),
            actor=Actor.system(),
        )
    )
    kit._commit(
        lambda s: catalog.create_manual(
            s,
            org_id=kit.org.id,
            data=CatalogItemCreate(name="Euro support", unit_amount=900, currency="EUR"),
            actor=Actor.system(),
        )
    )
    path = f"/invoices/{invoice.id}"
    with PageClient(site) as page:
        page.login(kit.admin.email)
        detail = page.get(path).text
        assert 'id="edit-form"' in detail and 'value="30"' in detail  # the org's default
        assert "Firewall license" in detail and "Euro support" not in detail  # USD items only

        # Terms and memo.
        for bad in ("400", "abc", "-1", ""):
            r = page.post(f"{path}/edit", {"days_until_due": bad, "memo": "Thanks!"})
            assert r.status_code == 422, bad
            assert "Payment terms" in (form_error(r.text) or ""), bad
            assert "Thanks!" in r.text  # what was typed is kept
        r = page.post(f"{path}/edit", {"days_until_due": "45", "memo": "PO 7781 <urgent>"})
        assert r.status_code == 303
        detail = page.follow(r).text
        assert flash(detail) == ("success", "Payment terms and memo saved.")
        assert "Net 45 days" in detail and "PO 7781 &lt;urgent&gt;" in detail
        saved = db_invoice(kit, invoice.id)
        assert saved is not None and saved.days_until_due == 45 and saved.memo == "PO 7781 <urgent>"

        # A manual line: 2 x 75.50 adds 151.00.
        manual = {"description": "Onsite visit", "quantity": "2", "unit_amount": "75.50"}
        for bad, message in (
            ({"unit_amount": "1.234"}, "more decimals"),
            ({"unit_amount": ""}, "unit price"),
            ({"description": ""}, "Describe the line"),
            ({"quantity": "0"}, "Quantity"),
        ):
            r = page.post(f"{path}/lines", {**manual, **bad})
            assert r.status_code == 422, bad
            assert message in (form_error(r.text) or ""), (bad, form_error(r.text))
        r = page.post(f"{path}/lines", manual)
        assert r.status_code == 303
        detail = page.follow(r).text
        assert flash(detail) == ("success", "Line added. The total is now $451.00.")
        assert total_on(detail) == 45100 and "Onsite visit" in detail

        # A catalog item: 3 x 25.00 adds 75.00.
        r = page.post(f"{path}/lines", {"catalog_item_id": str(item.id), "quantity": "3"})
        assert r.status_code == 303
        detail = page.follow(r).text
        assert total_on(detail) == 52600
        kinds = [k for _, k, _ in _LINE.findall(detail)]
        assert kinds == ["time", "time", "manual", "catalog"]
        r = page.post(f"{path}/lines", {"catalog_item_id": "", "quantity": "1"})
        assert r.status_code == 422 and "Choose a catalog item" in (form_error(r.text) or "")
        r = page.post(f"{path}/lines", {"catalog_item_id": str(uuid.uuid4()), "quantity": "1"})
        assert r.status_code == 422 and "does not match" in (form_error(r.text) or "")

        # Removing a time line releases its entry and lowers the total.
        lines = _LINE.findall(detail)
        first_time = next(line_id for line_id, k, _ in lines if k == "time")
        r = page.post(f"{path}/lines/{first_time}/remove")
        assert r.status_code == 303
        detail = page.follow(r).text
        assert flash(detail) == ("success", "Line removed. The total is now $346.00.")
        assert total_on(detail) == 34600 and len(_LINE.findall(detail)) == 3
        assert linked(kit, w.entries[0]) is None and linked(kit, w.entries[1]) == invoice.id
        r = page.post(f"{path}/lines/{first_time}/remove")
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and message == "Invoice line not found."
        assert 'data-action="invoice.line_removed"' in detail

        # Deleting the draft releases every entry; the list no longer has it.
        r = page.post(f"{path}/delete")
        assert r.status_code == 303 and r.headers["location"] == "/invoices"
        listing = page.follow(r).text
        assert flash(listing) == (
            "success",
            f"Draft {invoice.number} deleted; its time entries can be invoiced again.",
        )
        assert str(invoice.id) not in listing
        assert page.get(path).status_code == 404
        ready = page.get("/invoices/new").text
        assert f'data-client-id="{w.client.id}" data-entries="2"' in ready
    assert db_invoice(kit, invoice.id) is None
    assert all(linked(kit, e) is None for e in w.entries)
    with kit.db.session() as s:
        left = s.scalar(
            select(func.count())
            .select_from(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
        )
        assert left == 0


def _mark_sent(kit: OrgKit, invoice: Invoice, *, processing: bool = False) -> str:
    """Sent as `sending.send` leaves it (through the domain's own transitions)."""
    url = f"https://invoice.stripe.com/i/acct_test/test_{uuid.uuid4().hex}"
    stripe_id = f"in_{uuid.uuid4().hex[:14]}"

    def sent(s: Any) -> None:
        fresh = s.get(Invoice, invoice.id)
        transitions.mark_sent(
            s,
            invoice=fresh,
            actor=Actor.of(kit.admin),
            stripe_invoice_id=stripe_id,
            hosted_invoice_url=url,
            due_date=date.today() + timedelta(days=30),
        )
        if processing:
            transitions.mark_payment_processing(
                s, org_id=kit.org.id, stripe_invoice_id=stripe_id, at=datetime.now(UTC)
            )

    kit._commit(sent)
    return url


def test_list_filters_and_a_sent_invoice(make_org: Any, site: Any) -> None:
    kit = make_org()
    first, second = world(kit, 60), world(kit, 30)
    kept, sent = draft(first), draft(second)
    url = _mark_sent(kit, sent, processing=True)
    with PageClient(site) as page:
        page.login(kit.admin.email)
        rows = _ROW.findall(page.get("/invoices").text)
        assert sorted(rows) == sorted([(str(kept.id), "draft"), (str(sent.id), "sent")])
        assert _ROW.findall(page.get("/invoices?status=sent").text) == [(str(sent.id), "sent")]
        assert _ROW.findall(page.get("/invoices?status=paid").text) == []
        by_client = page.get("/invoices", params={"client_id": str(first.client.id)}).text
        assert _ROW.findall(by_client) == [(str(kept.id), "draft")]
        assert f'<option value="{first.client.id}" selected>' in by_client
        assert len(_ROW.findall(page.get("/invoices?status=bogus").text)) == 2  # ignored
        r = page.get("/invoices?client_id=not-an-id")
        assert r.status_code == 422 and "Choose a client" in (form_error(r.text) or "")
        assert page.get("/invoices?cursor=%%%").status_code == 422

        detail = page.get(f"/invoices/{sent.id}").text
        assert 'data-status="sent"' in detail and 'data-poll-url="' in detail
        assert f'<code id="payment-link" class="copyable">{url}</code>' in detail
        assert f'id="open-payment-link" href="{url}" target="_blank"' in detail
        assert 'id="copy-payment-link" data-copy="payment-link" hidden' in detail
        assert 'id="payment-processing"' in detail and "Bank payment processing" in detail
        assert "Sent through Stripe for $60.00" in detail
        assert 'id="edit-form"' not in detail and 'data-action="remove-line"' not in detail
        assert 'data-action="send"' not in detail and 'data-action="void"' in detail
        assert '/static/invoices.js"' in detail
        status = page.get(f"/invoices/{sent.id}/status")
        assert status.json() == {"status": "sent", "processing": True}
        assert status.headers["cache-control"] == "no-store"
        assert page.get(f"/invoices/{kept.id}/status").json()["status"] == "draft"

        # Draft-only actions on a sent invoice are refused in words, and nothing changes.
        r = page.post(f"/invoices/{sent.id}/edit", {"days_until_due": "10", "memo": ""})
        assert r.status_code == 409 and "only drafts can be changed" in (form_error(r.text) or "")
        r = page.post(f"/invoices/{sent.id}/delete")
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and "only drafts can be changed" in message
        # Void asks whether to release the entries before anything happens.
        r = page.post(f"/invoices/{sent.id}/void", {})
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and message.startswith("Choose whether the time entries")
    saved = db_invoice(kit, sent.id)
    assert saved is not None and saved.status == "sent" and saved.days_until_due == 30


def test_roles_and_other_orgs(make_org: Any, site: Any) -> None:
    kit, other = make_org(), make_org()
    w = world(kit, 60)
    invoice = draft(w)
    line_id = first_line_id(kit, invoice)
    theirs = world(other, 45)
    path = f"/invoices/{invoice.id}"
    posts: list[tuple[str, dict[str, str]]] = [
        (f"{path}/edit", {"days_until_due": "1", "memo": "x"}),
        (f"{path}/lines", {"description": "x", "quantity": "1", "unit_amount": "1"}),
        (f"{path}/lines/{line_id}/remove", {}),
        (f"{path}/send", {}),
        (f"{path}/void", {"release_entries": "yes"}),
        (f"{path}/delete", {}),
    ]
    with PageClient(site) as page:  # approvers read, without any controls
        page.login(w.approver.email)
        assert 'href="/invoices"' in page.get("/").text
        assert _ROW.findall(page.get("/invoices").text) == [(str(invoice.id), "draft")]
        detail = page.get(path)
        assert detail.status_code == 200 and total_on(detail.text) == 12000
        for control in ("edit-form", "add-manual-line", "invoice-actions", "new-invoice"):
            assert f'id="{control}"' not in detail.text, control
        assert page.get(f"{path}/status").status_code == 200
        assert page.get("/invoices/new").status_code == 403
        assert page.post("/invoices", {"client_id": str(w.client.id)}).status_code == 403
        for target, data in posts:
            r = page.post(target, data)
            assert r.status_code == 403 and "for admins" in r.text, target
    with PageClient(site) as page:  # technicians: not for them at all
        page.login(w.tech.email)
        assert 'href="/invoices"' not in page.get("/").text
        for target in ("/invoices", "/invoices/new", path, f"{path}/status"):
            assert page.get(target).status_code == 403, target
        for target, data in posts:
            assert page.post(target, data).status_code == 403, target
    with PageClient(site) as page:  # another org's admin: it does not exist
        page.login(other.admin.email)
        assert _ROW.findall(page.get("/invoices").text) == []
        assert page.get(path).status_code == 404
        assert page.get(f"{path}/status").status_code == 404
        for target, data in posts:
            assert page.post(target, data).status_code == 404, target
        r = page.get("/invoices/new", params={"client_id": str(w.client.id)})
        assert r.status_code == 404 and 'id="preview"' not in r.text
        r = page.post("/invoices", {"client_id": str(w.client.id)})
        assert r.status_code == 422 and "does not match any client" in (form_error(r.text) or "")
        assert str(theirs.client.id) in page.get("/invoices/new").text
        assert str(w.client.id) not in page.get("/invoices/new").text
    saved = db_invoice(kit, invoice.id)
    assert saved is not None and saved.status == "draft" and saved.total == 12000
    assert saved.days_until_due == 30 and saved.memo == ""
    assert linked(kit, w.entries[0]) == invoice.id


def first_line_id(kit: OrgKit, invoice: Invoice) -> uuid.UUID:
    with kit.db.session() as s:
        found = s.scalar(select(InvoiceLine.id).where(InvoiceLine.invoice_id == invoice.id))
        assert found is not None
        return found


# ---- sending and voiding through the Stripe sandbox ---------------------------------------------


def test_send_then_void_releasing_the_entries(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    kit = billing.kit
    w = world(kit, 90, 30)
    with PageClient(stripe_app.server) as page:
        page.login(kit.admin.email)
        r = page.post("/invoices", {"client_id": str(w.client.id)})
        assert r.status_code == 303, form_error(r.text)
        path = r.headers["location"]
        detail = page.follow(r).text
        assert 'data-action="send"' in detail and 'id="stripe-not-connected"' not in detail

        r = page.post(f"{path}/send")
        detail = page.follow(r).text
        kind, message = flash(detail) or ("", "")
        assert kind == "success" and "sent through Stripe" in message, message
        assert 'data-status="sent"' in detail and 'data-action="invoice.sent"' in detail
        url = re.search(r'<code id="payment-link" class="copyable">([^<]+)</code>', detail)
        assert url and url.group(1).startswith(billing.sandbox.url + "/i/")
        hosted = httpx.get(html.unescape(url.group(1)))
        assert hosted.status_code == 200 and "$240.00" in hosted.text
        assert 'id="open-payment-link"' in detail
        assert misaligned_headers(detail) == []

        r = page.post(f"{path}/void", {"release_entries": "yes"})
        detail = page.follow(r).text
        kind, message = flash(detail) or ("", "")
        assert kind == "success" and "voided; its time entries can be invoiced again" in message
        assert 'data-status="void"' in detail and "2 time entries released" in detail
        assert 'data-action="void"' not in detail
        # Voided: no payment link offered any more (the hosted page can no longer be paid).
        assert 'id="payment-link-panel"' not in detail and 'id="open-payment-link"' not in detail
        assert html.unescape(url.group(1)) not in html.unescape(detail)
        r = page.post(f"{path}/void", {"release_entries": "no"})
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and "already void" in message
    assert all(linked(kit, e) is None for e in w.entries)
    stripe_id = db_invoice(kit, uuid.UUID(path.rsplit("/", 1)[1])).stripe_invoice_id  # type: ignore[union-attr]
    assert billing.stripe.v1.invoices.retrieve(stripe_id).status == "void"


def test_send_without_stripe_says_where_to_connect(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    w = world(kit, 60)
    invoice = draft(w)
    with PageClient(stripe_app.server) as page:
        page.login(kit.admin.email)
        detail = page.get(f"/invoices/{invoice.id}").text
        assert 'id="stripe-not-connected"' in detail and 'href="/integrations"' in detail
        r = page.post(f"/invoices/{invoice.id}/send")
        assert r.status_code == 303
        detail = page.follow(r).text
        kind, message = flash(detail) or ("", "")
        assert kind == "error" and "Integrations" in html.unescape(message), message
        assert 'data-status="draft"' in detail and "Traceback" not in detail
    saved = db_invoice(kit, invoice.id)
    assert saved is not None and saved.status == "draft" and saved.stripe_invoice_id is None


def test_reconcile_now_on_the_stripe_card_heals_a_lost_webhook(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    sent = billing.sent_invoice()
    # The endpoint is removed in Stripe's Dashboard: the payment's webhook never comes.
    with billing.control() as control:
        assert control.delete(f"/_sandbox/webhooks/{billing.endpoint_id}").status_code == 200
        assert control.post(f"/_sandbox/invoices/{sent['stripe_invoice_id']}/pay").is_success
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        card = page.get("/integrations").text
        assert 'id="stripe-reconcile"' in card and "Not run yet" in card
        r = page.post("/integrations/stripe/reconcile")
        card = page.follow(r).text
        kind, message = flash(card) or ("", "")
        assert kind == "success" and message.startswith("Reconciled"), message
        last = re.search(r'<dd id="stripe-last-reconcile">\s*OK ·', card)
        assert last, card
        invoice_page = page.get(f"/invoices/{sent['id']}").text
        assert 'data-status="paid"' in invoice_page
