"""An admin generates an invoice from approved time, sends it through Stripe (the sandbox),
opens the payment link, pays by card on the hosted page and sees Paid: in Debian's Chromium."""

from __future__ import annotations

import re

import pytest
from integrations.conftest import StripeApp, connect_billing
from playwright.sync_api import Page, expect
from sqlalchemy import select

from regentra.models import Invoice
from web.test_browser import sign_in

pytestmark = pytest.mark.browser


def test_generate_send_pay_by_card_and_see_paid(stripe_server: StripeApp, page: Page) -> None:
    billing = connect_billing(stripe_server)
    kit = billing.kit
    client = kit.client(name="Contoso Dental", hourly_rate=12000)
    ticket = kit.ticket(client, title="Backup server rebuild")
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    for minutes in (90, 30):
        kit.entry(tech, ticket=ticket, minutes=minutes, status="approved", approver=approver)
    base = stripe_server.server.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)

    # PSA → Invoices → New invoice: choose the client, preview, create the draft.
    sign_in(page, base, kit.admin.email)
    page.locator('nav a[href="/invoices"]').click()
    expect(page.locator("#no-invoices")).to_be_visible()
    page.locator("#new-invoice").click()
    page.get_by_label("Client").select_option(label="Contoso Dental (USD)")
    page.locator("#show-preview").click()
    expect(page.locator("#preview-lines tbody tr")).to_have_count(2)
    expect(page.locator("#preview-lines")).to_contain_text("Backup server rebuild")
    expect(page.locator("#preview-lines")).to_contain_text("1:30")
    expect(page.locator("#preview-total")).to_have_text("$240.00")
    page.locator("#create-invoice").click()
    expect(page.locator("#flash")).to_contain_text("created with 2 lines, $240.00 in all")
    invoice = page.locator("#invoice")
    expect(invoice).to_have_attribute("data-status", "draft")
    expect(page.locator("#invoice-lines tbody tr")).to_have_count(2)
    expect(page.locator("#open-payment-link")).to_have_count(0)

    # Send, after confirming.
    expect(page.locator("#confirm-send")).to_be_hidden()
    page.locator('[data-action="send"]').click()
    expect(page.locator("#send")).to_contain_text("client gets an email with a payment link")
    page.locator("#confirm-send").click()
    expect(page.locator("#flash")).to_contain_text("sent through Stripe")
    expect(invoice).to_have_attribute("data-status", "sent")
    expect(page.locator("#invoice-status .badge")).to_have_text("sent")
    expect(page.locator("#timeline")).to_contain_text("Sent through Stripe for $240.00")

    # The payment link: copied by the Copy button (shown by the script), opened in a tab.
    link = page.locator("#payment-link").inner_text().strip()
    assert link.startswith(billing.sandbox.url + "/i/"), link
    copy = page.locator("#copy-payment-link")
    expect(copy).to_be_visible()
    copy.click()
    expect(page.locator("#copy-payment-link-done")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == link
    with page.context.expect_page() as opened:
        page.locator("#open-payment-link").click()
    hosted = opened.value
    hosted.wait_for_load_state()
    assert hosted.url == link
    expect(hosted.locator("h1")).to_contain_text("Open")
    hosted.get_by_label("Card number").fill("4242 4242 4242 4242")
    hosted.get_by_role("button", name=re.compile(r"^Pay \$240\.00")).click()
    expect(hosted.locator("body")).to_contain_text("Payment successful")

    # Back on the invoice page, without reloading it: Paid, through Stripe's webhook.
    expect(invoice).to_have_attribute("data-status", "paid", timeout=30_000)
    expect(page.locator("#invoice-status .badge")).to_have_text("paid")
    expect(page.locator("#timeline")).to_contain_text("payment received (Stripe webhook)")
    expect(page.locator("#invoice-paid-at")).to_contain_text("$240.00")
    expect(page.locator('[data-action="void"]')).to_have_count(0)  # paid: refund in Stripe
    page.locator('nav a[href="/invoices"]').click()
    expect(page.locator("#invoices tbody tr")).to_have_attribute("data-status", "paid")

    with kit.db.session() as s:
        (saved,) = s.scalars(select(Invoice).where(Invoice.org_id == kit.org.id)).all()
        assert saved.status == "paid" and saved.amount_paid == 24000
