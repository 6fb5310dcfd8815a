"""The customer portal: configurations, sessions, and the hosted page a session's `url` opens.

A session names a configuration, or the account's default one. Created through the API a
configuration is never the default (`is_default` is not a parameter) and a new account has no
default until its portal settings are saved in the Dashboard (control route
`POST /_sandbox/portal/default_configuration` here), so in test mode a session without
`configuration` is refused until then, in Stripe's words. A session needs a `return_url`
unless its configuration has a `default_return_url`.

The hosted page (`/p/session/<id>`, no API key) shows the customer's default payment method
and, by configuration, an update form and the invoice history. A new card (the test cards of
the hosted Checkout page) is attached (`payment_method.attached`) and becomes the customer's
`invoice_settings.default_payment_method` (`customer.updated`): only the customer's, so a
subscription's own `default_payment_method` still takes precedence, as on Stripe.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources import payment_methods
from regentra.sandbox.stripe.resources._util import merge_metadata, money
from regentra.sandbox.stripe.resources.checkout import test_card
from regentra.sandbox.stripe.resources.hosted_checkout import _document, _expiry, _notice
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

router = Router()

CONFIGURATION = "billing_portal.configuration"
SESSION = "billing_portal.session"
SESSION_SECONDS = 5 * 60  # a session's URL is short-lived
NO_DEFAULT = (
    "No configuration provided and your {mode} mode default configuration has not been "
    "created. Provide a configuration or create your default by saving your customer portal "
    "settings in {mode} mode at https://dashboard.stripe.com/{path}settings/billing/portal."
)
NO_RETURN_URL = (
    "Your PortalConfiguration does not have a default_return_url, and you did not provide a "
    "return_url."
)
FEATURES = ("customer_update", "invoice_history", "payment_method_update")


def _features(given: dict[str, Any]) -> dict[str, Any]:
    features: dict[str, Any] = {
        name: {"enabled": bool((given.get(name) or {}).get("enabled", False))} for name in FEATURES
    }
    cancel = given.get("subscription_cancel") or {}
    features["subscription_cancel"] = {
        "enabled": bool(cancel.get("enabled", False)),
        "mode": cancel.get("mode", "at_period_end"),
        "proration_behavior": cancel.get("proration_behavior", "none"),
    }
    update = given.get("subscription_update") or {}
    features["subscription_update"] = {"enabled": bool(update.get("enabled", False))}
    return features


def new_configuration(
    ctx: Ctx, params: dict[str, Any], *, is_default: bool = False
) -> dict[str, Any]:
    profile = params.get("business_profile") or {}
    configuration = ctx.add(
        {
            "object": CONFIGURATION,
            "active": True,
            "application": None,
            "business_profile": {
                "headline": profile.get("headline"),
                "privacy_policy_url": profile.get("privacy_policy_url"),
                "terms_of_service_url": profile.get("terms_of_service_url"),
            },
            "created": ctx.now(),
            "default_return_url": params.get("default_return_url"),
            "features": _features(params.get("features") or {}),
            "is_default": is_default,
            "livemode": ctx.account.livemode,
            "login_page": {"enabled": False, "url": None},
            "metadata": merge_metadata({}, params.get("metadata", {})),
            "name": params.get("name"),
            "updated": ctx.now(),
        }
    )
    ctx.emit("billing_portal.configuration.created", configuration)
    return configuration


@router.route("POST", "/v1/billing_portal/configurations", "BillingPortalConfigurationCreateParams")
def create_configuration(ctx: Ctx) -> dict[str, Any]:
    return new_configuration(ctx, ctx.params)


@router.route(
    "GET", "/v1/billing_portal/configurations/{id}", "BillingPortalConfigurationRetrieveParams"
)
def retrieve_configuration(ctx: Ctx) -> dict[str, Any]:
    return ctx.get(CONFIGURATION, ctx.path["id"])


@router.route("GET", "/v1/billing_portal/configurations", "BillingPortalConfigurationListParams")
def list_configurations(ctx: Ctx) -> dict[str, Any]:
    items = ctx.sandbox.all(ctx.account, CONFIGURATION)
    for name in ("active", "is_default"):
        if name in ctx.params:
            items = [c for c in items if c[name] is ctx.params[name]]
    return listing.page(items, ctx.params, "/v1/billing_portal/configurations", kind=CONFIGURATION)


@router.route("POST", "/_sandbox/portal/default_configuration", control=True)
def save_default_configuration(ctx: Ctx) -> dict[str, Any]:
    """What saving the portal settings in the Dashboard does: the account's default
    configuration (payment methods and invoice history on)."""
    found = _default(ctx.sandbox, ctx.account)
    if found is not None:
        return found
    features = {"invoice_history": {"enabled": True}, "payment_method_update": {"enabled": True}}
    return new_configuration(ctx, {"features": features}, is_default=True)


def _default(sandbox: Sandbox, account: Account) -> dict[str, Any] | None:
    return next((c for c in sandbox.all(account, CONFIGURATION) if c["is_default"]), None)


@router.route("POST", "/v1/billing_portal/sessions", "BillingPortalSessionCreateParams")
def create_session(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    if not p.get("customer"):
        raise StripeError("Missing required param: customer.", param="customer")
    customer = ctx.get("customer", p["customer"], "customer")
    if p.get("configuration"):
        configuration = ctx.get(CONFIGURATION, p["configuration"], "configuration")
        if not configuration["active"]:
            raise StripeError(
                "You cannot create a portal session with an inactive configuration.",
                param="configuration",
            )
    else:
        found = _default(ctx.sandbox, ctx.account)
        if found is None:
            mode = "live" if ctx.account.livemode else "test"
            raise StripeError(NO_DEFAULT.format(mode=mode, path="" if mode == "live" else "test/"))
        configuration = found
    return_url = p.get("return_url") or configuration["default_return_url"]
    if not return_url:
        raise StripeError(NO_RETURN_URL, param="return_url")
    session_id = f"bps_{random_token()}"
    session = ctx.add(
        {
            "id": session_id,
            "object": SESSION,
            "configuration": configuration["id"],
            "created": ctx.now(),
            "customer": customer["id"],
            "flow": None,
            "livemode": ctx.account.livemode,
            "locale": p.get("locale"),
            "on_behalf_of": p.get("on_behalf_of"),
            "return_url": return_url,
            "url": f"{ctx.base_url}/p/session/{session_id}",
        }
    )
    ctx.emit("billing_portal.session.created", session)
    return session


# ---- the hosted page ------------------------------------------------------------------------
def find_session(
    sandbox: Sandbox, session_id: str
) -> tuple[Account, dict[str, Any], dict[str, Any]] | None:
    """The session (still valid), its configuration, in whichever account holds them."""
    if not session_id.startswith("bps_"):
        return None
    for account in list(sandbox.accounts.values()):
        session = sandbox.find(account, SESSION, session_id)
        if session is not None:
            if sandbox.now() > session["created"] + SESSION_SECONDS:
                return None
            configuration = sandbox.find(account, CONFIGURATION, session["configuration"])
            return (account, session, configuration) if configuration else None
    return None


def _render(
    sandbox: Sandbox,
    account: Account,
    session: dict[str, Any],
    configuration: dict[str, Any],
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    esc = html.escape
    customer = sandbox.find(account, "customer", session["customer"]) or {}
    features = configuration["features"]
    pm_id = payment_methods.customer_default_id(customer)
    pm = sandbox.find(account, "payment_method", pm_id) if pm_id else None
    card = (pm or {}).get("card") or {}
    method = (
        f"{esc(str(card.get('brand', 'card')).title())} •••• {esc(str(card.get('last4')))}"
        if card
        else "No default payment method"
    )
    parts = [
        f'<section><p class="muted"><a href="{esc(session["return_url"])}">&larr; Return to '
        f"{esc(_merchant(account))}</a></p><h1>{esc(customer.get('email') or '')}</h1>"
        f'<h2 class="muted" style="font-size:15px">Payment method</h2>'
        f'<p id="payment-method">{method}</p>'
    ]
    if notice:
        parts.append(f'<div class="test" role="status">{esc(notice)}</div>')
    if features["payment_method_update"]["enabled"]:
        problem = f'<div class="error" role="alert">{esc(error)}</div>' if error else ""
        parts.append(
            f'<form method="post" action="/p/session/{esc(session["id"])}">'
            '<label for="card_number">Card number</label>'
            '<input id="card_number" name="card_number" inputmode="numeric" '
            'autocomplete="cc-number" placeholder="1234 1234 1234 1234" required>'
            '<div class="row"><div><label for="exp">Expiry (MM / YY)</label>'
            '<input id="exp" name="exp" placeholder="MM / YY" autocomplete="cc-exp" required>'
            '</div><div><label for="cvc">CVC</label><input id="cvc" name="cvc" '
            'placeholder="CVC" autocomplete="cc-csc" required></div></div>'
            f'{problem}<button type="submit">Add payment method</button>'
            '<div class="test">Test mode: 4242 4242 4242 4242 succeeds; '
            "4000 0000 0000 0002 is declined.</div></form>"
        )
    parts.append("</section>")
    if features["invoice_history"]["enabled"]:
        rows = "".join(
            f"<tr><td>{esc(datetime.fromtimestamp(i['created'], UTC).strftime('%b %d, %Y'))}"
            f"</td><td>{esc(money(i['total'], i['currency']))}</td><td>{esc(i['status'])}</td>"
            f'<td class="amt"><a href="{esc(i["hosted_invoice_url"] or "#")}">View</a></td></tr>'
            for i in reversed(sandbox.all(account, "invoice"))
            if i["customer"] == customer.get("id") and i["status"] != "draft"
        )
        parts.append(
            "<section><h1>Invoice history</h1>"
            f"<table>{rows or '<tr><td>No invoices yet</td></tr>'}</table></section>"
        )
    return _document(f"Billing - {_merchant(account)}", "".join(parts), status)


def _merchant(account: Account) -> str:
    return f"Sandbox {account.id[-6:]}"


def update_payment_method(
    sandbox: Sandbox, account: Account, customer: dict[str, Any], form: dict[str, str]
) -> str | None:
    """A new card from the page's form, made the customer's default; an error message for the
    page, or None."""
    expiry = _expiry(form.get("exp", ""), datetime.fromtimestamp(sandbox.now(), UTC).year)
    if isinstance(expiry, str):
        return expiry
    card = test_card(form.get("card_number", ""))
    if isinstance(card, str):
        return card
    number, brand = card
    pm = payment_methods.new_card(
        sandbox,
        account,
        customer,
        last4=number[-4:],
        brand=brand,
        exp_month=expiry[0],
        exp_year=expiry[1],
        email=customer.get("email"),
    )
    payment_methods.set_default_payment_method(sandbox, account, customer, pm)
    return None


def routes(sandbox: Sandbox) -> list[Any]:
    gone = ("Session expired", "This portal session has expired or does not exist.", 404)

    async def page(request: Request) -> Response:
        with sandbox.lock:
            found = find_session(sandbox, request.path_params["session_id"])
            if found is None:
                return _notice(*gone)
            notice = "Payment method updated." if request.query_params.get("updated") else None
            return _render(sandbox, *found, notice=notice)

    async def submit(request: Request) -> Response:
        raw = (await request.body()).decode()
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        with sandbox.lock:
            found = find_session(sandbox, request.path_params["session_id"])
            if found is None:
                return _notice(*gone)
            account, session, configuration = found
            customer = sandbox.find(account, "customer", session["customer"])
            if (
                customer is None
                or not configuration["features"]["payment_method_update"]["enabled"]
            ):
                return _notice("Not allowed", "This portal cannot update payment methods.", 403)
            error = update_payment_method(sandbox, account, customer, form)
            sandbox.save()
            if error is not None:
                return _render(sandbox, *found, error=error, status=402)
        return RedirectResponse(f"/p/session/{session['id']}?updated=1", 303)

    return [
        Route("/p/session/{session_id}", page, methods=["GET"]),
        Route("/p/session/{session_id}", submit, methods=["POST"]),
    ]
