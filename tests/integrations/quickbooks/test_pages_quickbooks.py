"""The QuickBooks card's mapping part and the invoice page's QuickBooks section, as a
browser without JavaScript sees them (plain form posts with CSRF), in-process against the
QuickBooks sandbox: the form filled from the live company with suggestions preselected, a
wrong type refused next to the form with a 422, the counts, the recent failures and Retry;
the invoice's postings with links; who may see and do what; no token or secret on a page."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import pytest
from sqlalchemy import select
from web.pages import PageClient, flash

from integrations.conftest import assert_no_secret
from integrations.quickbooks.mapping_helpers import (
    RESUME,
    SYNC,
    add_posting,
    company_ids,
    connection,
    declare_quickbooks_tasks,
    draft_invoice,
    queued,
)
from regentra import queue
from regentra.integrations.quickbooks import tokens
from regentra.models import QuickBooksItemMapping, QuickBooksPosting


@pytest.fixture(autouse=True)
def _tasks() -> None:
    declare_quickbooks_tasks()
    queue.get_huey().flush()


def selected(page: str, field: str) -> str | None:
    """The value of the option selected in the mapping form's select for `field`."""
    select = re.search(rf'<select id="qbo-{field}"[^>]*>(.*?)</select>', page, re.S)
    assert select, field
    chosen = re.search(r'<option value="([^"]*)" selected>', select.group(1))
    return chosen.group(1) if chosen else None


def form_of(page: str) -> dict[str, str]:
    fields = (
        "deposit_account",
        "other_deposit_account",
        "fee_account",
        "fee_paid_from_account",
        "fee_vendor",
        "income_item",
        "payout_account",
        "dispute_account",
    )
    values = {f"{f}_id": selected(page, f) or "" for f in fields}
    post_from = re.search(r'id="qbo-post-from" name="post_from" type="date" value="([^"]*)"', page)
    assert post_from
    return {**values, "post_from": post_from.group(1), "create_vendor": ""}


def test_card_maps_counts_failures_and_retries(make_org, connect_quickbooks, site, db):
    kit = make_org()
    q = connect_quickbooks(kit)
    ids = company_ids(kit)
    invoice = draft_invoice(db, kit)
    failed = add_posting(
        db,
        kit,
        invoice,
        "fee",
        "failed",
        last_error="Invalid account type: <Checking> is not an expense",
    )
    add_posting(db, kit, invoice, "invoice", "posted", qbo_id="12", qbo_type="Invoice")
    with PageClient(site) as page:
        page.login(kit.admin.email)
        card = page.get("/integrations")
        assert card.status_code == 200
        text = card.text
        assert 'id="qbo-mapping-needed"' in text  # nothing posts before a mapping
        assert selected(text, "deposit_account") == ids["Stripe Clearing"]
        assert selected(text, "fee_account") == ids["Merchant Fees"]
        assert selected(text, "fee_vendor") == ids["Stripe"]
        assert selected(text, "income_item") == ids["item:Services"]
        # The optional accounts: the suggestion before a first save, "Not set" offered.
        assert selected(text, "payout_account") == ids["Checking"]
        assert selected(text, "dispute_account") == ""
        assert '<option value="" selected>Not set</option>' in text
        assert "each Stripe payout is then posted as a Deposit grouping its payments" in text
        assert "Undeposited Funds (Other Current Asset)" in text
        dl = re.search(r'id="qbo-counts">(.*?)</dl>', text, re.S)
        assert dl  # the invoices' postings (the movements' are counted apart)
        counts = dict(
            re.findall(r'<div data-state="(\w+)"><dt>\w+</dt><dd>(\d+)</dd>', dl.group(1))
        )
        assert counts == {
            "pending": "0",
            "posted": "1",
            "failed": "1",
            "waiting": "0",
            "skipped": "0",
        }
        row = re.search(rf'<tr data-posting-id="{failed}" data-kind="fee">(.*?)</tr>', text, re.S)
        assert row and invoice.number in row.group(1) and "Stripe fee (Purchase)" in row.group(1)
        assert "Invalid account type: &lt;Checking&gt; is not an expense" in row.group(1)
        assert f'action="/integrations/quickbooks/postings/{failed}/retry"' in row.group(1)

        # A wrong type: 422, the reason next to the form, what was chosen kept.
        form = form_of(text)
        wrong = page.post(
            "/integrations/quickbooks/mapping", {**form, "fee_account_id": ids["Checking"]}
        )
        assert wrong.status_code == 422
        error = html.unescape(re.search(r'id="form-error">([^<]*)<', wrong.text).group(1))
        assert (
            "'Checking' is a Bank account; choose an expense account such as Merchant Fees" in error
        )
        # Checking is not an expense account, so not among the choices: "Choose…" instead.
        assert selected(wrong.text, "fee_account") == ""
        assert selected(wrong.text, "deposit_account") == form["deposit_account_id"]
        assert connection(db, kit).mapping_saved_at is None and queued() == []

        # Undeposited Funds for Stripe payments: saved, and the card says what it means.
        saved = page.post(
            "/integrations/quickbooks/mapping",
            {**form, "deposit_account_id": ids["Undeposited Funds"]},
        )
        assert saved.status_code == 303, saved.text[:3000]
        after = page.follow(saved)
        assert flash(after.text) == (
            "success",
            "QuickBooks mapping saved; postings waiting for it will run now.",
        )
        assert 'id="qbo-mapping-saved"' in after.text
        assert 'class="note qbo-mapping-note"' in after.text
        assert selected(after.text, "deposit_account") == ids["Undeposited Funds"]
        assert connection(db, kit).payout_account_id == ids["Checking"]
        assert connection(db, kit).dispute_account_id is None
        assert queued() == [(RESUME, (str(kit.org.id),))]
        queue.get_huey().flush()

        retried = page.post(
            f"/integrations/quickbooks/postings/{failed}/retry",
            {"next": "/integrations#quickbooks"},
        )
        assert retried.status_code == 303
        back = page.follow(retried)
        assert flash(back.text) == ("success", "Stripe fee (Purchase): trying again now.")
        assert 'id="qbo-no-failures"' in back.text
        assert queued() == [(SYNC, (str(invoice.id),))]
        # Retrying it again (now pending) is allowed; a posted one is refused in words.
        posted = next(p for p in _rows(db, kit) if p.state == "posted")
        done = page.post(
            f"/integrations/quickbooks/postings/{posted.id}/retry", {"next": "/integrations"}
        )
        assert flash(page.follow(done).text)[0] == "error"

        mapping_page = page.get("/integrations/quickbooks/mapping")
        assert mapping_page.status_code == 200 and 'id="qbo-mapping-form"' in mapping_page.text
        access, refresh = _tokens(db, kit)
        for shown in (text, wrong.text, after.text, mapping_page.text):
            assert_no_secret(shown, access, refresh, q.app.client_secret)


def _rows(db: Any, kit: Any) -> list[QuickBooksPosting]:
    with db.session() as s:
        return list(s.query(QuickBooksPosting).filter_by(org_id=kit.org.id))


def _tokens(db: Any, kit: Any) -> tuple[str, str]:
    with db.session() as s:
        access, refresh = tokens.saved(s, org_id=kit.org.id)
    assert access and refresh
    return access, refresh


def test_card_creates_the_vendor_and_shows_outages(
    make_org, connect_quickbooks, site, db, monkeypatch
):
    kit = make_org()
    q = connect_quickbooks(kit)
    with PageClient(site) as page:
        page.login(kit.admin.email)
        form = form_of(page.get("/integrations").text)
        body = {**form, "fee_vendor_id": "create", "create_vendor": "Stripe Payments UK"}
        assert page.post("/integrations/quickbooks/mapping", body).status_code == 303
        assert page.post("/integrations/quickbooks/mapping", body).status_code == 303
        made = [v for v in q.objects("Vendor") if v["DisplayName"] == "Stripe Payments UK"]
        assert len(made) == 1
        assert connection(db, kit).fee_vendor_id == made[0]["Id"]
        # A bad date is refused next to the form.
        bad = page.post("/integrations/quickbooks/mapping", {**form, "post_from": "soon"})
        assert bad.status_code == 422 and 'id="form-error"' in bad.text

        from regentra.config import get_settings

        # QuickBooks down: the page gives up after one short try (a task would back off and
        # retry; someone is waiting on this page).
        monkeypatch.setenv("REGENTRA_QBO_API_BASE", "http://127.0.0.1:9")
        get_settings.cache_clear()
        started = time.monotonic()
        down = page.get("/integrations")
        assert time.monotonic() - started < 2.0
        assert down.status_code == 200  # the rest of the page still works
        assert 'id="qbo-choices-error"' in down.text and "could not be reached" in down.text
        assert 'id="stripe-form"' in down.text


def test_invoice_page_section(make_org, connect_quickbooks, site, db):
    kit = make_org()
    invoice = draft_invoice(db, kit)
    approver = kit.add_user("approver")
    with PageClient(site) as page:
        page.login(kit.admin.email)
        assert 'id="quickbooks-postings"' not in page.get(f"/invoices/{invoice.id}").text

    q = connect_quickbooks(kit)
    fee = add_posting(db, kit, invoice, "fee", "failed", last_error="Account 7 is inactive")
    add_posting(
        db,
        kit,
        invoice,
        "invoice",
        "posted",
        qbo_id="31",
        qbo_type="Invoice",
        amount=15000,
        currency="USD",
    )
    add_posting(
        db,
        kit,
        invoice,
        "payment",
        "posted",
        qbo_id="32",
        qbo_type="Payment",
        amount=15000,
        currency="USD",
    )
    with PageClient(site) as page:
        page.login(kit.admin.email)
        text = page.get(f"/invoices/{invoice.id}").text
        rows = re.findall(r'<tr data-kind="(\w+)" data-state="(\w+)"', text)
        assert rows == [("invoice", "posted"), ("payment", "posted"), ("fee", "failed")]
        company = f"{q.app.sandbox.url}/company/{q.realm}"
        assert f'href="{company}"' in text and "Payment 32" in text and "$150.00" in text
        assert "Account 7 is inactive" in text and 'id="qbo-not-ready"' in text
        assert text.count('class="button button-small qbo-retry"') == 1
        retried = page.post(
            f"/integrations/quickbooks/postings/{fee}/retry", {"next": f"/invoices/{invoice.id}"}
        )
        assert retried.headers["location"] == f"/invoices/{invoice.id}"
        assert 'data-kind="fee" data-state="pending"' in page.follow(retried).text
        access, refresh = _tokens(db, kit)
        assert_no_secret(text, access, refresh, q.app.client_secret)
    with PageClient(site) as page:
        page.login(approver.email)
        text = page.get(f"/invoices/{invoice.id}").text
        assert 'id="quickbooks-postings"' in text and "qbo-retry" not in text


def test_only_admins_and_only_their_org(make_org, connect_quickbooks, site, db):
    kit = make_org()
    connect_quickbooks(kit)
    invoice = draft_invoice(db, kit)
    failed = add_posting(db, kit, invoice, "payment", "failed")
    for role in ("technician", "approver"):
        user = kit.add_user(role)
        with PageClient(site) as page:
            page.login(user.email)
            assert page.get("/integrations/quickbooks/mapping").status_code == 403
            assert page.post("/integrations/quickbooks/mapping", {}).status_code == 403
            r = page.post(f"/integrations/quickbooks/postings/{failed}/retry", {})
            assert r.status_code == 403
    other = make_org()
    with PageClient(site) as page:
        page.login(other.admin.email)
        assert page.post(f"/integrations/quickbooks/postings/{failed}/retry", {}).status_code == 404
        # Not connected: no card, and the mapping page says so in words.
        assert 'id="quickbooks-mapping"' not in page.get("/integrations").text
        alone = page.get("/integrations/quickbooks/mapping")
        assert alone.status_code == 409 and "not connected" in alone.text
        assert page.get(f"/invoices/{invoice.id}").status_code == 404
    assert next(p for p in _rows(db, kit)).state == "failed"
    assert queued() == []


def test_object_links(monkeypatch):
    from regentra.config import get_settings
    from regentra.integrations.quickbooks.mapping import object_link
    from regentra.models import QuickBooksConnection

    conn = QuickBooksConnection(realm_id="9130")
    expected = {
        ("production", "Invoice"): "https://app.qbo.intuit.com/app/invoice?txnId=7",
        ("production", "Payment"): "https://app.qbo.intuit.com/app/recvpayment?txnId=7",
        ("sandbox", "Purchase"): "https://app.sandbox.qbo.intuit.com/app/expense?txnId=7",
        ("sandbox", "CreditMemo"): "https://app.sandbox.qbo.intuit.com/app/creditmemo?txnId=7",
        (
            "http://127.0.0.1:12112/.well-known/openid_configuration",
            "Payment",
        ): "http://127.0.0.1:12112/company/9130",
    }
    for (env, kind), link in expected.items():
        monkeypatch.setenv("REGENTRA_QBO_ENVIRONMENT", env)
        get_settings.cache_clear()
        assert object_link(conn, kind, "7") == link
    assert object_link(conn, "Payment", "7", realm_id="555").endswith("/company/555")
    assert object_link(conn, "Payment", None) is None
    assert object_link(None, "Payment", "7") is None


def test_card_chooses_an_income_item_per_catalog_item(make_org, connect_quickbooks, site, db):
    """Issue 17: a select per active catalog item among the income item's choices ("Default"
    first); the choice is saved and shown selected; another org's catalog item, or an item
    that is not one of the company's, is a 422 next to the form and nothing changes."""
    kit, other = make_org(), make_org()
    connect_quickbooks(kit)
    ids = company_ids(kit)
    firewall = kit.api().post(
        "/catalog", json={"name": "Firewall", "unit_amount": 4000, "currency": "usd"}
    )
    theirs = other.api().post(
        "/catalog", json={"name": "Theirs", "unit_amount": 100, "currency": "usd"}
    )
    assert firewall.status_code == 201 and theirs.status_code == 201, firewall.text
    firewall_id = firewall.json()["id"]
    with PageClient(site) as page:
        page.login(kit.admin.email)
        text = page.get("/integrations/quickbooks/mapping").text
        assert selected(text, f"catalog-{firewall_id}") == ""
        assert "Default: the income item above" in text
        form = {**form_of(text), f"catalog_item:{firewall_id}": ids["item:Services"]}
        saved = page.post("/integrations/quickbooks/mapping", form)
        assert saved.status_code == 303, saved.text[:3000]
        shown = page.get("/integrations/quickbooks/mapping").text
        assert selected(shown, f"catalog-{firewall_id}") == ids["item:Services"]
        with db.session() as s:
            rows = s.scalars(select(QuickBooksItemMapping)).all()
        assert [(str(r.catalog_item_id), r.quickbooks_item_id) for r in rows] == [
            (firewall_id, ids["item:Services"])
        ]

        for bad, words in (
            (
                {f"catalog_item:{theirs.json()['id']}": ids["item:Services"]},
                "there is no active catalog item with id",
            ),
            ({f"catalog_item:{firewall_id}": "9999"}, "Firewall: there is no item with id '9999'"),
        ):
            wrong = page.post("/integrations/quickbooks/mapping", {**form, **bad})
            assert wrong.status_code == 422, wrong.text[:2000]
            error = html.unescape(re.search(r'id="form-error">([^<]*)<', wrong.text).group(1))
            assert words in error, error
        # Back to the default.
        page.post("/integrations/quickbooks/mapping", {**form, f"catalog_item:{firewall_id}": ""})
        with db.session() as s:
            assert s.scalars(select(QuickBooksItemMapping)).all() == []
