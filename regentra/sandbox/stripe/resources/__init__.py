"""Every emulated endpoint, by area. Each module owns one `router` (and pages, if any)."""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import webhooks
from regentra.sandbox.stripe.resources import (
    account_settings,
    balances,
    billing,
    catalog,
    checkout,
    control,
    core,
    customers,
    discounts,
    disputes,
    events,
    hosted_checkout,
    hosted_invoice,
    invoice_lines,
    invoice_preview,
    payments,
    payouts,
    portal,
    refunds,
    subscriptions,
)
from regentra.sandbox.stripe.routing import Router
from regentra.sandbox.stripe.state import Sandbox

ROUTERS: list[Router] = [
    core.router,
    catalog.router,
    customers.router,
    discounts.router,
    balances.router,
    invoice_preview.router,  # before billing's POST /v1/invoices/{id}
    billing.router,
    invoice_lines.router,
    payments.router,
    subscriptions.router,
    checkout.router,
    events.router,
    control.router,
    account_settings.router,
    portal.router,
    refunds.router,
    disputes.router,
    payouts.router,
]


def page_routes(sandbox: Sandbox) -> list[Any]:
    """Unauthenticated HTML pages: the hosted invoice, checkout and customer portal pages."""
    return [
        *hosted_invoice.routes(sandbox),
        *hosted_checkout.routes(sandbox),
        *portal.routes(sandbox),
    ]


def startup(sandbox: Sandbox) -> None:
    for module in (billing, catalog, payments, payouts, refunds, subscriptions):
        install = getattr(module, "install", None)
        if install is not None:
            install(sandbox)
    webhooks.start(sandbox)


def shutdown(sandbox: Sandbox) -> None:
    webhooks.stop(sandbox)
