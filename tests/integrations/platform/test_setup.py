"""`regentra platform setup`: the platform's products, prices and webhook endpoint made once
in its own Stripe account (the Stripe sandbox, a fresh account per test), their ids recorded
in `platform_settings`; on both databases, in-process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from conftest import Database
from sandbox.stripe.conftest import StripeSandbox
from typer.testing import CliRunner

from integrations.conftest import use_stripe
from regentra import cli
from regentra.config import ConfigError, Settings, get_settings, resolve
from regentra.integrations.platform import setup
from regentra.integrations.platform.errors import PlatformBillingOff
from regentra.models import PLATFORM_SETTINGS_ID, PlatformSettings

PRICES = {
    "regentra_starter_monthly": 4900,
    "regentra_starter_seat_monthly": 1900,
    "regentra_pro_monthly": 14900,
    "regentra_pro_seat_monthly": 2900,
    "regentra_compliance_tenant_monthly": 1500,
}


class Platform:
    def __init__(self, sandbox: StripeSandbox, key: str) -> None:
        self.sandbox, self.key = sandbox, key
        self.stripe = sandbox.client(key)

    def creates(self) -> list[str]:
        """The POSTs that made something (creates), from the account's request log."""
        log = httpx.get(
            f"{self.sandbox.url}/_sandbox/requests",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        ).json()["data"]
        made = [r for r in log if r["method"] == "POST" and r["status"] == 200]
        creates = ("/v1/billing_portal/configurations",)  # else /v1/<resource>
        return [r["path"] for r in made if r["path"].count("/") == 2 or r["path"] in creates]

    def prices(self) -> dict[str, Any]:
        listed = self.stripe.v1.prices.list(params={"lookup_keys": list(PRICES), "limit": 100})
        return {p.lookup_key: p for p in listed.data}


@pytest.fixture
def platform(
    db: Database, app_sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Platform]:
    key = f"sk_test_platform{uuid.uuid4().hex}"
    use_stripe(monkeypatch, app_sandbox.url, stripe_max_rps="0", platform_stripe_secret_key=key)
    yield Platform(app_sandbox, key)
    get_settings.cache_clear()


def row(db: Database) -> PlatformSettings:
    with db.session() as session:
        found = session.get(PlatformSettings, PLATFORM_SETTINGS_ID)
        assert found is not None
        session.expunge(found)
        return found


def test_setup_twice_makes_everything_once(platform: Platform, db: Database) -> None:
    first = setup.set_up()
    assert sorted(first.made) == sorted(
        [f"product {p.id}" for p in setup.PRODUCTS]
        + [f"price {key}" for key in PRICES]
        + [f"webhook endpoint {first.webhook_url}", "customer portal configuration"]
    )
    assert first.webhook_url == get_settings().base_url + "/api/webhooks/platform/stripe"
    assert first.webhook_secret is not None and first.webhook_secret.startswith("whsec_")
    assert first.saved and first.livemode is False and first.account_id.startswith("acct_")
    made = platform.creates()
    assert sorted(made) == sorted(
        ["/v1/products"] * 4
        + ["/v1/prices"] * 5
        + ["/v1/webhook_endpoints", "/v1/billing_portal/configurations"]
    )

    again = setup.set_up()
    assert again.made == [] and again.saved is False and again.webhook_secret is None
    assert platform.creates() == made  # nothing more was made

    # In Stripe: the products under our ids, one monthly price per lookup key at the configured
    # amount on the right product, one endpoint with the events handled.
    for product in setup.PRODUCTS:
        assert platform.stripe.v1.products.retrieve(product.id).name == product.name
    prices = platform.prices()
    assert {k: p.unit_amount for k, p in prices.items()} == PRICES
    assert {p.recurring.interval for p in prices.values()} == {"month"}
    assert prices["regentra_pro_seat_monthly"].product == "regentra_psa_seat"
    (endpoint,) = platform.stripe.v1.webhook_endpoints.list().data
    assert endpoint.url == first.webhook_url
    assert sorted(endpoint.enabled_events) == sorted(setup.WEBHOOK_EVENTS)
    # Recorded: the account, the price ids by lookup key, the endpoint.
    saved = row(db)
    assert saved.account_id == first.account_id and saved.livemode is False
    assert saved.prices == {k: p.id for k, p in prices.items()}
    assert saved.webhook_endpoint_id == endpoint.id
    (portal,) = platform.stripe.v1.billing_portal.configurations.list().data
    assert saved.portal_configuration_id == portal.id and portal.is_default is False


def test_a_changed_amount_makes_a_new_price_that_takes_the_key(
    platform: Platform, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup.set_up()
    old = platform.prices()["regentra_pro_seat_monthly"]
    billing_on_at = row(db).billing_on_at
    monkeypatch.setenv("REGENTRA_PLATFORM_PRO_SEAT_MONTHLY", "3500")
    get_settings.cache_clear()
    report = setup.set_up()
    assert report.made == ["price regentra_pro_seat_monthly (new amount)"]
    assert report.saved
    new = platform.prices()["regentra_pro_seat_monthly"]
    assert new.id != old.id and new.unit_amount == 3500
    # The old price stays (existing subscriptions keep it), without the key.
    assert platform.stripe.v1.prices.retrieve(old.id).lookup_key is None
    saved = row(db)
    assert saved.prices["regentra_pro_seat_monthly"] == new.id
    assert saved.billing_on_at == billing_on_at  # billing was switched on once
    assert setup.set_up().made == []


def test_an_endpoint_missing_an_event_gets_it(platform: Platform) -> None:
    url = get_settings().base_url + setup.WEBHOOK_PATH
    existing = platform.stripe.v1.webhook_endpoints.create(
        params={"url": url, "enabled_events": ["invoice.paid"]}
    )
    report = setup.set_up()
    assert report.webhook_secret is None  # not made: Stripe would not show its secret again
    assert any(m.startswith("webhook endpoint events ") for m in report.made)
    (endpoint,) = platform.stripe.v1.webhook_endpoints.list().data
    assert endpoint.id == existing.id
    assert sorted(endpoint.enabled_events) == sorted(setup.WEBHOOK_EVENTS)


def test_the_cli_prints_the_signing_secret_once(platform: Platform) -> None:
    runner = CliRunner()
    first = runner.invoke(cli.app, ["platform", "setup"])
    assert first.exit_code == 0, first.output
    assert "made: product regentra_plan_starter" in first.output
    assert first.output.count("whsec_") == 1
    second = runner.invoke(cli.app, ["platform", "setup"])
    assert second.exit_code == 0, second.output
    assert "whsec_" not in second.output and "nothing changed" in second.output


def test_without_a_platform_key_billing_is_off(
    db: Database, app_sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_stripe(monkeypatch, app_sandbox.url, platform_stripe_secret_key="")
    assert get_settings().platform_billing is False
    with pytest.raises(PlatformBillingOff):
        setup.set_up()
    refused = CliRunner().invoke(cli.app, ["platform", "setup"])
    assert refused.exit_code == 1
    assert "REGENTRA_PLATFORM_STRIPE_SECRET_KEY" in refused.output
    with db.session() as session:
        assert setup.current(session) is None


def test_a_rejected_platform_key_is_a_clear_error(
    db: Database, app_sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_stripe(monkeypatch, app_sandbox.url, platform_stripe_secret_key="sk_test_")
    refused = CliRunner().invoke(cli.app, ["platform", "setup"])
    assert refused.exit_code == 1
    assert "Stripe rejected the secret key" in refused.output
    assert isinstance(refused.exception, SystemExit)
    with pytest.raises(stripe.AuthenticationError):  # the sandbox refuses it, as Stripe does
        app_sandbox.client("sk_test_").v1.products.list()


def test_platform_secrets_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "platform-key"
    key_file.write_text("sk_test_fromafile\n")
    secret_file = tmp_path / "platform-whsec"
    secret_file.write_text("whsec_fromafile")
    from_files = resolve(
        Settings(
            platform_stripe_secret_key_file=str(key_file),
            platform_stripe_webhook_secret_file=str(secret_file),
        )
    )
    assert from_files.platform_stripe_secret_key == "sk_test_fromafile"
    assert from_files.platform_stripe_webhook_secret == "whsec_fromafile"
    assert from_files.platform_billing
    assert resolve(Settings(platform_stripe_secret_key="sk_test_x")).platform_billing
    assert not resolve(Settings()).platform_billing
    both = Settings(
        platform_stripe_secret_key="sk_test_x", platform_stripe_secret_key_file=str(key_file)
    )
    with pytest.raises(ConfigError, match="not both"):
        resolve(both)
    with pytest.raises(ConfigError, match="cannot read"):
        resolve(Settings(platform_stripe_webhook_secret_file=str(tmp_path / "missing")))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        resolve(Settings(platform_stripe_secret_key_file=str(tmp_path / "empty")))
