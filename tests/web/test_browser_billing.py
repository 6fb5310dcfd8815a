"""An admin subscribes to Regentra in Debian's Chromium: the Billing page, Stripe Checkout
(the sandbox's hosted page, a test card), back to Regentra, and the subscription turning
active through the platform webhook the sandbox delivers to a real `regentra serve`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Database, LiveServer, free_port, start_server, stop_server
from factories import _org_factory
from integrations.platform.conftest import platform_setup_cli
from playwright.sync_api import Page, expect
from sandbox.stripe.conftest import StripeSandbox
from sqlalchemy.orm import sessionmaker

from regentra.db import make_engine
from regentra.migrate import upgrade
from web.test_browser import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def billing_server(
    tmp_path: Path, app_sandbox: StripeSandbox
) -> Iterator[tuple[LiveServer, Database]]:
    """A server with platform billing on (a fresh platform account of the sandbox), set up as
    an operator would: `regentra platform setup`, then the secret it prints configured."""
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    upgrade(url)
    port = free_port()
    env = {
        "REGENTRA_DATABASE_URL": url,
        "REGENTRA_BASE_URL": f"http://127.0.0.1:{port}",
        "REGENTRA_STRIPE_API_BASE": app_sandbox.url,
        "REGENTRA_PLATFORM_STRIPE_SECRET_KEY": f"sk_test_platform{uuid.uuid4().hex}",
    }
    env["REGENTRA_PLATFORM_STRIPE_WEBHOOK_SECRET"] = platform_setup_cli(env)
    engine = make_engine(url)
    server = start_server(url, extra_env=env, port=port)
    try:
        yield server, Database("sqlite", url, sessionmaker(bind=engine, expire_on_commit=False))
    finally:
        stop_server(server)
        engine.dispose()


def test_an_admin_subscribes_through_checkout(
    billing_server: tuple[LiveServer, Database], page: Page
) -> None:
    server, database = billing_server
    kit: Any = _org_factory(database, server)()
    kit.add_user("technician")
    base = server.url
    sign_in(page, base, kit.admin.email)
    page.locator('nav a[href="/billing"]').click()
    status = page.locator("#billing-status")
    expect(status).to_have_attribute("data-status", "trial")
    expect(page.locator("#billing-seats")).to_have_text("2")
    page.locator("#subscribe-pro").click()

    # Stripe Checkout (the sandbox's hosted page): the plan, the seats, a test card.
    expect(page.locator("body")).to_contain_text("Regentra Pro")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.locator("#exp").fill("12 / 34")
    page.locator("#cvc").fill("123")
    page.get_by_label("Name on card").fill("Dana Owner")
    page.get_by_role("button", name="Subscribe").click()

    # Back on Regentra: activating until the platform webhook arrives, then subscribed.
    page.wait_for_url(re.compile(re.escape(base) + r"/billing\?checkout=done"))
    for _ in range(40):
        if status.get_attribute("data-status") == "active":
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(status).to_have_attribute("data-status", "active")
    expect(status).to_contain_text("Pro plan")
    expect(page.locator("#billing-cancel")).to_be_visible()
    assert "Traceback" not in server.log()

    # The next invoice, and a new card through Stripe's customer portal.
    expect(page.locator("#billing-next-invoice")).to_be_visible()
    expect(page.locator("#billing-card")).to_have_text("visa •••• 4242")
    page.locator("#billing-portal").click()
    expect(page.locator("#payment-method")).to_have_text("Visa •••• 4242")
    page.get_by_label("Card number").fill("5555 5555 5555 4444")
    page.locator("#exp").fill("12 / 34")
    page.locator("#cvc").fill("123")
    page.get_by_role("button", name="Add payment method").click()
    expect(page.locator("#payment-method")).to_have_text("Mastercard •••• 4444")
    page.get_by_role("link", name=re.compile("Return to")).click()
    page.wait_for_url(base + "/billing")
    expect(page.locator("#billing-card")).to_have_text("mastercard •••• 4444")
    assert "Traceback" not in server.log()
