"""Settings → Integrations: the Stripe page, as a browser without JavaScript sees it (plain
form posts with CSRF), and in Debian's Chromium. The app talks to the Stripe sandbox.

In-process (`stripe_app`, the app in the test's transaction): who may use the page, and the
webhook and catalog status it shows. e2e (`stripe_server`, a real `regentra serve`): the
admin's connection without JavaScript, which ends with a scan of the server's log, and the
same in Chromium (a browser needs a real server; the catalog is filled by its consumer)."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from integrations.conftest import StripeApp, assert_no_secret, connect_billing
from playwright.sync_api import Page, expect
from sandbox.stripe.conftest import new_key
from sandbox.stripe.receiver import wait_until

from web.pages import PASSWORD, PageClient, flash, form_error

_TEST_RESULT = re.compile(r'id="stripe-test-result"[^>]*data-account-id="(acct_\w+)"[^>]*>([^<]*)<')
_WEBHOOK_URL = re.compile(r'<code id="webhook-url" class="copyable">([^<]+)</code>')


def pk(mode: str = "test") -> str:
    return f"pk_{mode}_{uuid.uuid4().hex}"


def test_only_admins(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    for role in ("technician", "approver"):
        user = kit.add_user(role)
        with PageClient(stripe_app.server) as page:
            page.login(user.email)
            assert page.get("/integrations").status_code == 403
            for path in ("/integrations/stripe", "/integrations/stripe/test"):
                r = page.post(path, {"publishable_key": pk(), "secret_key": new_key()})
                assert r.status_code == 403, path
            assert page.post("/integrations/stripe/webhook-token/rotate").status_code == 403
            assert page.post("/integrations/stripe/disconnect").status_code == 403
    with kit.api() as api:
        assert api.get("/integrations/stripe").json()["publishable_key"] is None


@pytest.mark.e2e
def test_admin_connects_without_javascript(stripe_server: StripeApp) -> None:
    """e2e: ends with a scan of the server's log."""
    kit = stripe_server.make_org()
    sk, pub = new_key(), pk()
    with PageClient(stripe_server.server.url) as page:
        page.login(kit.admin.email)
        r = page.get("/integrations")
        assert r.status_code == 200
        text = r.text
        assert text.count("<li>") >= 4 and 'id="stripe-steps"' in text
        assert 'data-mode="none"' in text
        url = html.unescape(_WEBHOOK_URL.search(text).group(1))  # type: ignore[union-attr]
        assert url.startswith(stripe_server.server.url + "/api/webhooks/stripe/")
        assert 'id="copy-webhook-url"' in text and "hidden" in text  # shown by JS only

        # CSRF as on every page.
        bad = page.http.post("/integrations/stripe", data={"publishable_key": pub})
        assert bad.status_code == 403

        # Test Connection as a plain form post: the result inline, the secret not echoed.
        r = page.post("/integrations/stripe/test", {"publishable_key": pub, "secret_key": sk})
        assert r.status_code == 200, r.text
        found = _TEST_RESULT.search(r.text)
        assert found, r.text
        account_id = found.group(1)
        assert account_id in found.group(2)
        assert f'value="{pub}"' in r.text  # the publishable key stays typed in
        assert_no_secret(r.text, sk)

        # The publishable key in the secret field: the field, the fix, nothing saved.
        r = page.post("/integrations/stripe", {"publishable_key": pub, "secret_key": pub})
        assert r.status_code == 422
        assert (form_error(r.text) or "").startswith("Secret key: this is the publishable key")
        assert 'data-mode="none"' in r.text

        # Save: back to the page, connected, in test mode, the hint only.
        r = page.post("/integrations/stripe", {"publishable_key": pub, "secret_key": sk})
        assert r.status_code == 303, r.text
        r = page.follow(r)
        assert flash(r.text) is not None and flash(r.text)[0] == "success"  # type: ignore[index]
        assert account_id in r.text
        assert 'data-mode="test"' in r.text and "process no real payments" in r.text
        assert f"sk_test_\u2026{sk[-4:]}" in r.text
        assert html.unescape(_WEBHOOK_URL.search(r.text).group(1)) == url  # type: ignore[union-attr]
        assert_no_secret(r.text, sk)

        # The signing secret: saved, never shown.
        secret = "whsec_" + uuid.uuid4().hex
        r = page.follow(
            page.post(
                "/integrations/stripe", {"publishable_key": pub, "webhook_signing_secret": secret}
            )
        )
        assert 'id="stripe-signing-secret-saved"' in r.text
        assert f"sk_test_\u2026{sk[-4:]}" in r.text  # the secret key was kept
        assert_no_secret(r.text, sk, secret)

        # A new webhook URL (once the box saying yes is ticked).
        r = page.follow(page.post("/integrations/stripe/webhook-token/rotate", {"confirm": "yes"}))
        new_url = html.unescape(_WEBHOOK_URL.search(r.text).group(1))  # type: ignore[union-attr]
        assert new_url != url

        # Disconnect.
        r = page.follow(page.post("/integrations/stripe/disconnect", {"confirm": "yes"}))
        assert 'data-mode="none"' in r.text and 'id="stripe-secret-key-hint"' not in r.text
    assert_no_secret(stripe_server.server.log(), sk, secret)


@pytest.mark.browser
def test_admin_connects_stripe_in_chromium(stripe_server: StripeApp, page: Page) -> None:
    kit = stripe_server.make_org()
    sk, pub = new_key(), pk()
    base = stripe_server.server.url
    # What the MSP already sells in its Stripe account.
    stripe_api = stripe_server.sandbox.client(sk)
    for name, amount in (("Managed endpoint", 2500), ("Onsite hour", 17500)):
        stripe_api.v1.products.create(
            params={
                "name": name,
                "default_price_data": {"unit_amount": amount, "currency": "usd"},
            }
        )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.goto(base + "/login")
    page.get_by_label("Email").fill(kit.admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#sign-in").click()
    page.locator('nav a[href="/integrations"]').click()
    expect(page.locator("#stripe-mode")).to_have_attribute("data-mode", "none")

    page.get_by_label("Publishable key").fill(pub)
    page.get_by_label("Secret key").fill(sk)
    page.locator("#stripe-test").click()
    result = page.locator("#stripe-test-result")
    expect(result).to_have_attribute("data-ok", "true")
    expect(result).to_contain_text("acct_")
    account_id = result.get_attribute("data-account-id")
    assert account_id and account_id.startswith("acct_")
    # JavaScript tested without a reload: the typed keys are still there to save.
    expect(page.get_by_label("Secret key")).to_have_value(sk)

    page.locator("#stripe-save").click()
    expect(page.locator("#flash")).to_contain_text("Stripe settings saved.")
    expect(page.locator("#flash")).to_contain_text(account_id)
    expect(page.locator("#stripe-mode")).to_have_attribute("data-mode", "test")
    expect(page.locator("#stripe-secret-key-hint")).to_have_text(f"sk_test_\u2026{sk[-4:]}")
    expect(page.get_by_label("Secret key")).to_have_value("")

    url = page.locator("#webhook-url").inner_text()
    assert url.startswith(base + "/api/webhooks/stripe/")
    copy = page.locator("#copy-webhook-url")
    expect(copy).to_be_visible()
    copy.click()
    expect(page.locator("#copy-webhook-url-done")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == url
    assert_no_secret(page.content(), sk)

    # PSA → Catalog: the first save filled it, without a click on Sync (once the server's
    # consumer has run the sync).
    with kit.api() as api:
        wait_until(
            lambda: api.get("/integrations/stripe").json()["catalog"]["items"] == 2, timeout=20
        )
    page.locator('nav a[href="/catalog"]').click()
    expect(page.locator("main")).to_contain_text("Managed endpoint")
    expect(page.locator("main")).to_contain_text("Onsite hour")


def test_page_shows_webhook_and_catalog_status(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    with PageClient(stripe_app.server) as page:
        page.login(kit.admin.email)
        text = page.get("/integrations").text
        assert "None yet" in text  # no webhook received
        assert 'id="stripe-catalog" data-status="' in text
        url = html.unescape(_WEBHOOK_URL.search(text).group(1))  # type: ignore[union-attr]
    with stripe_app.server.http() as http:  # type: ignore[union-attr]
        assert http.post(url, content=b"{}").status_code == 400  # no signing secret yet
    with PageClient(stripe_app.server) as page:
        page.login(kit.admin.email)
        text = page.get("/integrations").text
        assert "no webhook signing secret is saved" in text


_SETUP = re.compile(r'<details class="setup" id="stripe-setup"( open)?>')


def _setup_open(text: str) -> bool:
    found = _SETUP.search(text)
    assert found, "the card has its setup steps"
    return found.group(1) is not None


def _webhook_url(text: str) -> str:
    return html.unescape(_WEBHOOK_URL.search(text).group(1))  # type: ignore[union-attr]


def test_connected_card_folds_the_setup_and_asks_before_rotating_or_disconnecting(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        text = page.get("/integrations").text
        # Connected (keys and signing secret): the four steps fold away, one click to reopen.
        assert not _setup_open(text) and "done: keys and signing secret saved" in text
        # The status block: a list of five facts, each a name and its value.
        block = text[text.index('<dl class="status-list" id="stripe-status">') :]
        block = block[: block.index("</dl>")]
        names = re.findall(r"<dt>([^<]+)</dt>", block)
        assert names == [
            "Last connection test",
            "Last webhook received",
            "Last webhook rejected",
            "Last reconciliation",
            "Service Catalog",
        ]
        for field in ("stripe-rotate-confirm", "stripe-disconnect-confirm"):
            assert re.search(rf'id="{field}" required>', text), field
        url = _webhook_url(text)

        # Without the box ticked (a browser would not send the form): asked again, nothing done.
        r = page.post("/integrations/stripe/webhook-token/rotate")
        assert r.status_code == 422
        assert '<details class="danger-zone" id="stripe-more" open>' in r.text
        assert "Tick the box to confirm making a new webhook URL." in r.text
        assert _webhook_url(r.text) == url
        r = page.post("/integrations/stripe/webhook-token/rotate", {"confirm": "yes"})
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "success" and "New webhook URL made" in message
        assert _webhook_url(page.get("/integrations").text) != url

        r = page.post("/integrations/stripe/disconnect", {"confirm": ""})
        assert r.status_code == 422
        assert "Tick the box to confirm disconnecting Stripe." in r.text
        assert 'data-mode="test"' in page.get("/integrations").text  # still connected
        r = page.post("/integrations/stripe/disconnect", {"confirm": "yes"})
        text = page.follow(r).text
        assert 'data-mode="none"' in text
        assert _setup_open(text)  # not connected: the steps are open again
        assert 'id="stripe-disconnect-confirm"' not in text  # nothing left to disconnect


def test_keys_without_a_signing_secret_keep_the_steps_open(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    with kit.api() as api:
        key = new_key()
        saved = api.put(
            "/integrations/stripe",
            json={"publishable_key": "pk_test_" + key[8:], "secret_key": key},
        )
        assert saved.status_code == 200, saved.text
    with PageClient(stripe_app.server) as page:
        page.login(kit.admin.email)
        text = page.get("/integrations").text
    assert 'data-mode="test"' in text  # the keys are saved
    assert _setup_open(text)  # steps 3 and 4 (the webhook) are still to do
