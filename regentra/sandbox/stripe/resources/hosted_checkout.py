"""The hosted Checkout page: a session's `url` (`/c/pay/<session id>`), no API key needed.

It shows the items and the total with a card form. Card 4242 4242 4242 4242 completes the
session and redirects (303) to its `success_url`; 4000 0000 0000 0002 shows a decline and
leaves the session open. Plain HTML with a little inline CSS and no external assets.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from regentra.sandbox.stripe.resources import checkout
from regentra.sandbox.stripe.resources._util import money
from regentra.sandbox.stripe.state import Account, Sandbox

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f6f8fa;color:#1a1f36;
margin:0;padding:32px 16px}
main{max-width:760px;margin:0 auto;display:flex;flex-wrap:wrap;gap:32px}
section{flex:1 1 300px;background:#fff;border-radius:8px;padding:24px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:18px;margin:0 0 4px}h2{font-size:28px;margin:0 0 16px}
.muted{color:#697386;font-size:13px}table{width:100%;border-collapse:collapse;font-size:14px}
td{padding:8px 0;border-bottom:1px solid #e3e8ee;vertical-align:top}td.amt{text-align:right}
label{display:block;font-size:13px;margin:12px 0 4px;color:#3c4257}
input{width:100%;box-sizing:border-box;padding:9px;border:1px solid #cfd7df;border-radius:6px;
font-size:15px}.row{display:flex;gap:8px}.row div{flex:1}
button{margin-top:18px;width:100%;padding:12px;border:0;border-radius:6px;background:#635bff;
color:#fff;font-size:16px;cursor:pointer}
.error{background:#fdecea;color:#b3261e;border-radius:6px;padding:10px;margin-top:12px}
.test{background:#fff8e1;border-radius:6px;padding:8px;font-size:12px;margin-top:14px}
a{color:#635bff}
"""


def _every(price: dict[str, Any]) -> str:
    recurring = price.get("recurring") or {}
    interval, count = recurring.get("interval", "month"), recurring.get("interval_count", 1)
    return f"{interval}" if count == 1 else f"{count} {interval}s"


def _document(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(page, status_code=status)


def _notice(title: str, message: str, status: int, link: str | None = None) -> HTMLResponse:
    extra = f'<p><a href="{html.escape(link)}">Continue</a></p>' if link else ""
    body = f"<section><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{extra}</section>"
    return _document(title, body, status)


def _merchant(account: Account) -> str:
    return f"Sandbox {account.id[-6:]}"


def _render(
    account: Account,
    session: dict[str, Any],
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    form = form or {}
    esc = html.escape
    items = checkout.line_items(account, session)["data"]
    currency = session["currency"]
    rows = "".join(
        f"<tr><td>{esc(item['description'] or item['price']['id'])}"
        f'<div class="muted">Qty {item["quantity"]} &times; '
        f"{esc(money(item['price']['unit_amount'] or 0, currency))} per "
        f"{esc(_every(item['price']))}</div></td>"
        f'<td class="amt">{esc(money(item["amount_total"], currency))}</td></tr>'
        for item in items
    )
    every = _every(items[0]["price"]) if items else "month"
    total = money(session["amount_total"] or 0, currency)
    email_field = ""
    if not session["customer"] and not session["customer_email"]:
        email_field = (
            '<label for="email">Email</label><input id="email" name="email" type="email" '
            f'autocomplete="email" required value="{esc(form.get("email", ""))}">'
        )
    elif session["customer_email"]:
        email_field = f'<p class="muted">Email: {esc(session["customer_email"])}</p>'
    cancel = (
        f'<p class="muted"><a href="{esc(session["cancel_url"])}">&larr; Back</a></p>'
        if session["cancel_url"]
        else ""
    )
    problem = f'<div class="error" role="alert">{esc(error)}</div>' if error else ""
    body = (
        f"<section>{cancel}<h1>Subscribe to {esc(_merchant(account))}</h1>"
        f"<h2>{esc(total)} <span class='muted'>per {esc(every)}</span></h2>"
        f"<table>{rows}<tr><td><strong>Total due today</strong></td>"
        f'<td class="amt"><strong>{esc(total)}</strong></td></tr></table></section>'
        f'<section><form method="post" action="/c/pay/{esc(session["id"])}">'
        f"{email_field}"
        '<label for="card_number">Card number</label>'
        '<input id="card_number" name="card_number" inputmode="numeric" '
        'autocomplete="cc-number" placeholder="1234 1234 1234 1234" required '
        f'value="{esc(form.get("card_number", ""))}">'
        '<div class="row"><div><label for="exp">Expiry (MM / YY)</label>'
        '<input id="exp" name="exp" placeholder="MM / YY" autocomplete="cc-exp" required '
        f'value="{esc(form.get("exp", ""))}"></div>'
        '<div><label for="cvc">CVC</label><input id="cvc" name="cvc" placeholder="CVC" '
        'autocomplete="cc-csc" required></div></div>'
        '<label for="name">Name on card</label><input id="name" name="name" '
        f'autocomplete="cc-name" value="{esc(form.get("name", ""))}">'
        f'{problem}<button type="submit">Subscribe</button>'
        '<div class="test">Test mode: 4242 4242 4242 4242 succeeds; '
        "4000 0000 0000 0002 is declined. Any future expiry and any CVC.</div>"
        "</form></section>"
    )
    return _document(f"Subscribe - {_merchant(account)}", body, status)


def _expiry(value: str, year_now: int) -> tuple[int, int] | str:
    parts = [p.strip() for p in value.replace("-", "/").split("/")]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return "Your card's expiration date is incomplete."
    month, year = int(parts[0]), int(parts[1])
    year = year + 2000 if year < 100 else year
    if not 1 <= month <= 12:
        return "Your card's expiration month is invalid."
    if year < year_now:
        return "Your card's expiration year is in the past."
    return month, year


def _success_redirect(session: dict[str, Any]) -> Response:
    url = session["success_url"]
    if not url:
        return _notice("Thanks for subscribing", "Your subscription is active.", 200)
    return RedirectResponse(url.replace("{CHECKOUT_SESSION_ID}", session["id"]), 303)


def routes(sandbox: Sandbox) -> list[Any]:
    def lookup(request: Request) -> tuple[Account, dict[str, Any]] | None:
        return checkout.find_session(sandbox, request.path_params["session_id"])

    async def page(request: Request) -> Response:
        with sandbox.lock:
            found = lookup(request)
            if found is None:
                return _notice("Not found", "This checkout page does not exist.", 404)
            account, session = found
            if session["status"] == "complete":
                return _notice(
                    "Already paid",
                    "This checkout session is complete.",
                    200,
                    session["success_url"],
                )
            if session["status"] == "expired":
                return _notice(
                    "Session expired",
                    "This checkout session has expired.",
                    410,
                    session["cancel_url"],
                )
            return _render(account, session)

    async def submit(request: Request) -> Response:
        raw = (await request.body()).decode()
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        with sandbox.lock:
            found = lookup(request)
            if found is None:
                return _notice("Not found", "This checkout page does not exist.", 404)
            account, session = found
            if session["status"] != "open":
                return await page(request)
            expiry = _expiry(form.get("exp", ""), datetime.fromtimestamp(sandbox.now(), UTC).year)
            if isinstance(expiry, str):
                return _render(account, session, error=expiry, form=form, status=400)
            error = checkout.complete(
                sandbox,
                account,
                session,
                card_number=form.get("card_number", ""),
                exp_month=expiry[0],
                exp_year=expiry[1],
                name=form.get("name") or None,
                email=form.get("email") or None,
            )
            sandbox.save()
            if error is not None:
                return _render(account, session, error=error, form=form, status=402)
            return _success_redirect(session)

    return [
        Route("/c/pay/{session_id}", page, methods=["GET"]),
        Route("/c/pay/{session_id}", submit, methods=["POST"]),
    ]
