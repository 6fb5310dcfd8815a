"""`regentra platform setup`: the platform's products, prices, webhook endpoint and customer
portal configuration in its own Stripe account, made once, and their ids in
`platform_settings`.

Idempotent, so it can run at every deploy:
- products have ids of our own (`regentra_plan_starter`, …; Stripe lets the caller choose a
  product's id, unique in the account): retrieved, made only when missing;
- prices are found by lookup key (`regentra_starter_monthly`, …). A price's amount cannot
  change in Stripe, so when the configured amount (`REGENTRA_PLATFORM_*_MONTHLY`) or the
  currency differs from the price holding the key, a new price is made and takes the key
  (`transfer_lookup_key`): new subscriptions get it, existing ones keep theirs;
- the webhook endpoint is the one whose URL is `<base URL>/api/webhooks/platform/stripe`,
  made when missing (its signing secret is shown then, the only time Stripe gives it) and
  given any event it lacks;
- the customer portal configuration (payment method and invoice history) is the stored one,
  else the account's active one carrying our metadata, else made;
- the `platform_settings` row is written only when something in it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from regentra.config import Settings, get_settings
from regentra.db import session_scope
from regentra.errors import RegentraError
from regentra.integrations.platform.errors import BILLING_OFF, PlatformBillingOff
from regentra.integrations.stripe.client import (
    API_VERSION,
    OrgStripe,
    fingerprint,
    for_platform,
    idempotency_key,
    request_options,
)
from regentra.kit.time import utcnow
from regentra.models import PLATFORM_SETTINGS_ID, PlatformSettings

WEBHOOK_PATH = "/api/webhooks/platform/stripe"
WEBHOOK_EVENTS = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_action_required",
)
METADATA = {"regentra": "platform"}


@dataclass(frozen=True)
class ProductSpec:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class PriceSpec:
    lookup_key: str
    product: str
    amount: int  # minor units a month
    nickname: str


PLAN_PRODUCTS = ("regentra_plan_starter", "regentra_plan_pro")
SEAT_PRODUCT = "regentra_psa_seat"
COMPLIANCE_PRODUCT = "regentra_compliance_tenant"
PRODUCTS = (
    ProductSpec("regentra_plan_starter", "Regentra Starter", "Regentra Starter plan, monthly"),
    ProductSpec("regentra_plan_pro", "Regentra Pro", "Regentra Pro plan, monthly"),
    ProductSpec("regentra_psa_seat", "Regentra PSA seat", "Each active user, monthly"),
    ProductSpec(
        "regentra_compliance_tenant",
        "Regentra compliance tenant",
        "Each client with compliance enabled, monthly",
    ),
)


def product_of(item: dict[str, Any]) -> str | None:
    """The product id of a subscription item (its price's product, expanded or not)."""
    product = (item.get("price") or {}).get("product")
    if isinstance(product, dict):
        product = product.get("id")
    return product if isinstance(product, str) else None


@dataclass(frozen=True)
class Plan:
    name: str
    label: str
    fee: str  # lookup key of the flat monthly fee (quantity 1)
    seat: str  # lookup key of the per-seat price


PLANS = {
    "starter": Plan(
        "starter", "Starter", "regentra_starter_monthly", "regentra_starter_seat_monthly"
    ),
    "pro": Plan("pro", "Pro", "regentra_pro_monthly", "regentra_pro_seat_monthly"),
}
COMPLIANCE_TENANT = "regentra_compliance_tenant_monthly"


def price_specs(settings: Settings) -> list[PriceSpec]:
    return [
        PriceSpec(
            PLANS["starter"].fee,
            "regentra_plan_starter",
            settings.platform_starter_monthly,
            "Starter plan",
        ),
        PriceSpec(
            PLANS["starter"].seat,
            "regentra_psa_seat",
            settings.platform_starter_seat_monthly,
            "PSA seat (Starter)",
        ),
        PriceSpec(PLANS["pro"].fee, "regentra_plan_pro", settings.platform_pro_monthly, "Pro plan"),
        PriceSpec(
            PLANS["pro"].seat,
            "regentra_psa_seat",
            settings.platform_pro_seat_monthly,
            "PSA seat (Pro)",
        ),
        PriceSpec(
            COMPLIANCE_TENANT,
            "regentra_compliance_tenant",
            settings.platform_compliance_tenant_monthly,
            "Compliance tenant",
        ),
    ]


@dataclass
class Report:
    """What a run found and made; `webhook_secret` only when it made the endpoint."""

    account_id: str
    livemode: bool
    made: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    webhook_url: str = ""
    webhook_secret: str | None = None
    saved: bool = False  # the platform_settings row was written


def _same_terms(price: dict[str, Any], spec: PriceSpec, currency: str) -> bool:
    recurring = price.get("recurring") or {}
    return (
        price.get("unit_amount") == spec.amount
        and price.get("currency") == currency
        and recurring.get("interval") == "month"
        and recurring.get("interval_count", 1) == 1
        and price.get("product") == spec.product
    )


def _create(resource: str, params: dict[str, Any], key: str, c: Any) -> Any:
    """`c.v1.<resource>.create(params)` under idempotency key `key` (for `OrgStripe.call`);
    `resource` may be dotted ("billing_portal.configurations")."""
    service = c.v1
    for name in resource.split("."):
        service = getattr(service, name)
    return service.create(params, request_options(key))


def _account(stripe: OrgStripe) -> tuple[str, bool]:
    try:
        account = stripe.retrieve_account()
    except RegentraError as exc:
        if exc.status != 403:
            raise
        # A restricted key cannot read the account (Stripe offers no permission for it).
        return "", stripe.mode == "live"
    return str(account["id"]), bool(account.get("livemode", stripe.mode == "live"))


def _products(stripe: OrgStripe, report: Report) -> None:
    for spec in PRODUCTS:

        def retrieve(c: Any, spec: ProductSpec = spec) -> Any:
            return c.v1.products.retrieve(spec.id)

        if stripe.find(retrieve, op="products.retrieve") is not None:
            report.kept.append(f"product {spec.id}")
            continue
        params = {
            "id": spec.id,
            "name": spec.name,
            "description": spec.description,
            "metadata": METADATA,
        }
        key = idempotency_key("platform-product", f"{spec.id}:{fingerprint(params)}")
        stripe.call(partial(_create, "products", params, key), op="products.create")
        report.made.append(f"product {spec.id}")


def _prices(stripe: OrgStripe, settings: Settings, report: Report) -> dict[str, str]:
    specs = price_specs(settings)
    currency = settings.platform_currency.strip().lower()
    keys = [spec.lookup_key for spec in specs]
    held = {
        price["lookup_key"]: price
        for price in stripe.iterate(
            lambda c: c.v1.prices.list(params={"lookup_keys": keys, "active": True, "limit": 100}),
            op="prices.list",
        )
    }
    ids: dict[str, str] = {}
    for spec in specs:
        price = held.get(spec.lookup_key)
        if price is not None and _same_terms(price, spec, currency):
            ids[spec.lookup_key] = str(price["id"])
            report.kept.append(f"price {spec.lookup_key}")
            continue
        params = {
            "product": spec.product,
            "currency": currency,
            "unit_amount": spec.amount,
            "recurring": {"interval": "month"},
            "lookup_key": spec.lookup_key,
            "transfer_lookup_key": price is not None,
            "nickname": spec.nickname,
            "metadata": METADATA,
        }
        key = idempotency_key("platform-price", f"{spec.lookup_key}:{fingerprint(params)}")
        made = stripe.call(partial(_create, "prices", params, key), op="prices.create")
        ids[spec.lookup_key] = str(made.id)
        report.made.append(
            f"price {spec.lookup_key}" + (" (new amount)" if price is not None else "")
        )
    return ids


def _webhook_endpoint(stripe: OrgStripe, base_url: str, report: Report) -> str:
    url = base_url.rstrip("/") + WEBHOOK_PATH
    report.webhook_url = url
    endpoint = next(
        (
            e
            for e in stripe.iterate(
                lambda c: c.v1.webhook_endpoints.list(params={"limit": 100}),
                op="webhook_endpoints.list",
            )
            if e.get("url") == url
        ),
        None,
    )
    if endpoint is None:
        made = stripe.call(
            lambda c: c.v1.webhook_endpoints.create(
                params={
                    "url": url,
                    "enabled_events": list(WEBHOOK_EVENTS),
                    "api_version": API_VERSION,
                    "description": "Regentra platform billing",
                    "metadata": METADATA,
                }
            ),
            op="webhook_endpoints.create",
        )
        report.made.append(f"webhook endpoint {url}")
        report.webhook_secret = str(made.secret)
        return str(made.id)
    enabled = list(endpoint.get("enabled_events") or [])
    missing = [e for e in WEBHOOK_EVENTS if e not in enabled and "*" not in enabled]
    if missing:
        stripe.call(
            lambda c: c.v1.webhook_endpoints.update(
                endpoint["id"], params={"enabled_events": [*enabled, *missing]}
            ),
            op="webhook_endpoints.update",
        )
        report.made.append(f"webhook endpoint events {', '.join(missing)}")
    else:
        report.kept.append(f"webhook endpoint {url}")
    return str(endpoint["id"])


PORTAL_FEATURES = {
    # The card and past invoices; plan changes and cancellation stay on the Billing page.
    "payment_method_update": {"enabled": True},
    "invoice_history": {"enabled": True},
    "customer_update": {"enabled": False},
    "subscription_cancel": {"enabled": False},
    "subscription_update": {"enabled": False},
}


def _portal_configuration(
    stripe: OrgStripe, stored: str | None, base_url: str, report: Report
) -> str:
    """The customer portal configuration portal sessions name (in test mode Stripe refuses a
    session without one until the Dashboard's portal settings are saved). Found by the id
    stored, else among the account's active configurations by our metadata (Stripe's list
    has no metadata filter), else made."""
    found: dict[str, Any] | None = None
    if stored:
        held = stripe.find(
            lambda c: c.v1.billing_portal.configurations.retrieve(stored),
            op="billing_portal.configurations.retrieve",
        )
        found = held.to_dict() if held is not None else None
        found = found if found and found.get("active") else None
    if found is None:
        found = next(
            (
                c
                for c in stripe.iterate(
                    lambda c: c.v1.billing_portal.configurations.list(
                        params={"active": True, "limit": 100}
                    ),
                    op="billing_portal.configurations.list",
                )
                if (c.get("metadata") or {}).get("regentra") == METADATA["regentra"]
            ),
            None,
        )
    if found is not None:
        report.kept.append("customer portal configuration")
        return str(found["id"])
    params = {
        "business_profile": {"headline": "Regentra: your subscription"},
        "default_return_url": base_url.rstrip("/") + "/billing",
        "features": PORTAL_FEATURES,
        "metadata": METADATA,
    }
    key = idempotency_key("platform-portal", fingerprint(params))
    made = stripe.call(
        partial(_create, "billing_portal.configurations", params, key),
        op="billing_portal.configurations.create",
    )
    report.made.append("customer portal configuration")
    return str(made.id)


def run(session: Session, stripe: OrgStripe, *, settings: Settings) -> Report:
    """Make what is missing in the platform account and record the ids (module doc)."""
    account_id, livemode = _account(stripe)
    report = Report(account_id=account_id, livemode=livemode)
    _products(stripe, report)
    prices = _prices(stripe, settings, report)
    endpoint_id = _webhook_endpoint(stripe, settings.base_url, report)
    row = session.get(PlatformSettings, PLATFORM_SETTINGS_ID)
    portal = _portal_configuration(
        stripe, row.portal_configuration_id if row else None, settings.base_url, report
    )
    values = {
        "account_id": account_id,
        "livemode": livemode,
        "prices": prices,
        "webhook_endpoint_id": endpoint_id,
        "portal_configuration_id": portal,
    }
    if row is None:
        session.add(PlatformSettings(id=PLATFORM_SETTINGS_ID, **values))
        report.saved = True
    elif any(getattr(row, k) != v for k, v in values.items()):
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        report.saved = True
    session.flush()
    return report


def set_up() -> Report:
    """`run` with the configured platform key, in a unit of work of its own (the database is
    touched only after the Stripe calls). `PlatformBillingOff` when no key is configured."""
    settings = get_settings()
    if not settings.platform_billing:
        raise PlatformBillingOff(BILLING_OFF)
    stripe = for_platform(settings.platform_stripe_secret_key)
    with session_scope() as session:
        return run(session, stripe, settings=settings)


def current(session: Session) -> PlatformSettings | None:
    """What the last setup recorded (None: never run)."""
    return session.get(PlatformSettings, PLATFORM_SETTINGS_ID)
