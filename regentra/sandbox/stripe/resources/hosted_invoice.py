"""The hosted invoice page: what a client opens from `hosted_invoice_url`.

`/i/<account id>/test_<token>` needs no API key (the unguessable token is the credential,
as on Stripe). It shows the invoice and lets the client pay: by card (4242 4242 4242 4242
succeeds, 4000 0000 0000 0002 is declined, anything else is invalid) or by bank (ACH,
`processing` until settled through the control API). `…/pdf` serves a small PDF of it.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources import account_settings, payments
from regentra.sandbox.stripe.resources._util import money
from regentra.sandbox.stripe.state import Account, Sandbox

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f6f8fa;color:#1a1f36;
margin:0;padding:32px 16px}
main{max-width:640px;margin:0 auto;background:#fff;border-radius:8px;padding:32px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:20px;margin:0 0 4px}.muted{color:#697386;font-size:14px}
.total{font-size:32px;font-weight:600;margin:16px 0 4px}
table{width:100%;border-collapse:collapse;margin:24px 0;font-size:14px}
th,td{padding:8px 4px;border-bottom:1px solid #e3e8ee;text-align:left}
td.num,th.num{text-align:right}
.badge{display:inline-block;padding:2px 8px;border-radius:4px;font-size:12px;font-weight:600;
background:#e3e8ee;text-transform:uppercase}
.badge.paid{background:#d7f7c2;color:#05690d}.badge.open{background:#cff5f6;color:#0055bc}
.badge.void,.badge.uncollectible{background:#ebeef1;color:#545969}
.note{padding:12px;border-radius:6px;margin:16px 0;font-size:14px}
.error{background:#fde8e8;color:#a41c1c}.ok{background:#d7f7c2;color:#05690d}
.info{background:#cff5f6;color:#0055bc}
form{margin:16px 0}label{display:block;font-size:14px;margin-bottom:4px}
input{width:100%;box-sizing:border-box;padding:10px;border:1px solid #cfd7df;border-radius:6px;
font-size:16px;margin-bottom:8px}
button{width:100%;padding:12px;border:0;border-radius:6px;background:#635bff;color:#fff;
font-size:16px;font-weight:600;cursor:pointer}button.secondary{background:#1a1f36}
"""


def _date(timestamp: int | None, account: Account) -> str:
    """A date as the hosted page and PDF show it: in the account's Dashboard time zone
    (Stripe's docs do not say which zone; the account's is the reading that keeps the page,
    the Dashboard and the merchant's own books on one date)."""
    if not timestamp:
        return "—"
    day = dt.datetime.fromtimestamp(timestamp, ZoneInfo(account.timezone))
    return f"{day:%B} {day.day}, {day.year}"


def find_invoice(
    sandbox: Sandbox, account_id: str, token: str
) -> tuple[Account, dict[str, Any]] | None:
    """The invoice whose hosted URL ends in /i/<account_id>/<token> (call under the lock)."""
    if not token.startswith("test_"):
        return None
    suffix = f"/i/{account_id}/{token}"
    for account in sandbox.accounts.values():
        if account.id != account_id:
            continue
        for invoice_id in account.order.get("invoice", []):
            invoice = account.objects[invoice_id]
            if (invoice.get("hosted_invoice_url") or "").endswith(suffix):
                return account, invoice
    return None


def _accepts(account: Account, invoice: dict[str, Any], pm_type: str) -> bool:
    return pm_type in account_settings.offered_types(account, invoice)


def render(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    message: tuple[str, str] | None = None,
) -> str:
    """The page (call under the lock). `message` is (css class, text)."""
    e = escape
    cur = invoice["currency"]
    status = invoice["status"]
    customer = sandbox.find(account, "customer", invoice["customer"]) or {}
    processing = payments.processing_intent(account, invoice) is not None
    rows = "".join(
        f"<tr><td>{e(line.get('description') or 'Item')}</td>"
        f"<td class=num>{e(str(line.get('quantity') or 1))}</td>"
        f"<td class=num>{e(money(line['amount'], cur))}</td></tr>"
        for line in invoice["lines"]["data"]
    )
    label = "Paid" if status == "paid" else status.capitalize()
    parts = [
        f"<p class=muted>{e(invoice.get('account_name') or 'Sandbox')}</p>",
        f"<h1>Invoice {e(invoice.get('number') or '')} "
        f"<span class='badge {e(status)}'>{e(label)}</span></h1>",
        f"<div class=total>{e(money(invoice['amount_due'], cur))}</div>",
        f"<p class=muted>Due {e(_date(invoice.get('due_date'), account))}"
        + (f" · Billed to {e(customer['name'])}" if customer.get("name") else "")
        + (f" · {e(customer['email'])}" if customer.get("email") else "")
        + "</p>",
    ]
    if invoice.get("description"):
        parts.append(f"<p>{e(invoice['description'])}</p>")
    parts.append(
        "<table><thead><tr><th>Description</th><th class=num>Qty</th>"
        f"<th class=num>Amount</th></tr></thead><tbody>{rows}</tbody><tfoot>"
        f"<tr><th colspan=2>Total</th><th class=num>{e(money(invoice['total'], cur))}</th></tr>"
        f"<tr><th colspan=2>Amount paid</th>"
        f"<th class=num>{e(money(invoice['amount_paid'], cur))}</th></tr>"
        f"<tr><th colspan=2>Amount remaining</th>"
        f"<th class=num>{e(money(invoice['amount_remaining'], cur))}</th></tr></tfoot></table>"
    )
    if message:
        parts.append(f"<div class='note {e(message[0])}' role=status>{e(message[1])}</div>")
    if status == "paid":
        paid_at = invoice["status_transitions"].get("paid_at")
        parts.append(f"<div class='note ok'>Paid on {e(_date(paid_at, account))}. Thank you!</div>")
    elif status == "void":
        parts.append("<div class='note info'>This invoice has been voided.</div>")
    elif processing:
        parts.append(
            "<div class='note info'>Your bank payment is processing. The invoice will be marked "
            "paid when it settles.</div>"
        )
    elif status in ("open", "uncollectible"):
        base = e(invoice["hosted_invoice_url"].split("/i/", 1)[1])
        if _accepts(account, invoice, "card"):
            parts.append(
                f"<form method=post action='/i/{base}/card'><h2>Pay by card</h2>"
                "<label for=card_number>Card number</label>"
                "<input id=card_number name=card_number inputmode=numeric autocomplete=cc-number "
                "placeholder='4242 4242 4242 4242' required>"
                f"<button type=submit>Pay {e(money(invoice['amount_remaining'], cur))}</button>"
                "</form>"
            )
        if _accepts(account, invoice, "us_bank_account"):
            parts.append(
                f"<form method=post action='/i/{base}/ach'><h2>Pay by bank (ACH)</h2>"
                "<p class=muted>Test bank account STRIPE TEST BANK ····6789.</p>"
                "<button type=submit class=secondary>Pay by bank</button></form>"
            )
    if invoice.get("invoice_pdf"):
        parts.append(f"<p class=muted><a href='{e(invoice['invoice_pdf'])}'>Download PDF</a></p>")
    title = f"Invoice {invoice.get('number') or ''}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{e(title)}</title><style>{CSS}</style></head><body><main>"
        + "".join(parts)
        + "</main></body></html>"
    )


def _not_found() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><title>Not found</title><p>This invoice link is not valid.</p>",
        status_code=404,
    )


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF with `lines` of Helvetica text."""

    def text(s: str) -> str:
        s = s.encode("latin-1", "replace").decode("latin-1")
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    stream = "BT /F1 12 Tf 72 760 Td 16 TL " + " ".join(f"({text(s)}) '" for s in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def routes(sandbox: Sandbox) -> list[Any]:
    async def page(request: Request) -> Response:
        with sandbox.lock:
            found = find_invoice(sandbox, request.path_params["acct"], request.path_params["token"])
            if found is None:
                return _not_found()
            return HTMLResponse(render(sandbox, *found))

    async def pdf(request: Request) -> Response:
        with sandbox.lock:
            found = find_invoice(sandbox, request.path_params["acct"], request.path_params["token"])
            if found is None:
                return _not_found()
            account, invoice = found
            cur = invoice["currency"]
            lines = [
                f"{invoice.get('account_name') or 'Sandbox'}",
                f"Invoice {invoice.get('number') or ''}  ({invoice['status']})",
                f"Due {_date(invoice.get('due_date'), account)}",
                "",
                *(
                    f"{line.get('description') or 'Item'}  x{line.get('quantity') or 1}  "
                    f"{money(line['amount'], cur)}"
                    for line in invoice["lines"]["data"]
                ),
                "",
                f"Total {money(invoice['total'], cur)}",
                f"Amount due {money(invoice['amount_due'], cur)}",
            ]
        return Response(_pdf(lines), media_type="application/pdf")

    async def pay(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(errors="replace")))
        kind = request.path_params["kind"]
        with sandbox.lock:
            found = find_invoice(sandbox, request.path_params["acct"], request.path_params["token"])
            if found is None:
                return _not_found()
            account, invoice = found
            status_code, message = _pay(sandbox, account, invoice, kind, form)
            sandbox.save()
            return HTMLResponse(render(sandbox, account, invoice, message), status_code=status_code)

    return [
        Route("/i/{acct}/{token}", page, methods=["GET"]),
        Route("/i/{acct}/{token}/pdf", pdf, methods=["GET"]),
        Route("/i/{acct}/{token}/{kind:str}", pay, methods=["POST"]),
    ]


def _pay(
    sandbox: Sandbox, account: Account, invoice: dict[str, Any], kind: str, form: dict[str, str]
) -> tuple[int, tuple[str, str]]:
    if kind == "card":
        number = "".join(ch for ch in form.get("card_number", "") if not ch.isspace())
        method = payments.CARD_NUMBERS.get(number)
        if method is None:
            return 400, ("error", "Your card number is invalid.")
    elif kind == "ach":
        method = "ach"
    else:
        return 404, ("error", "Unknown payment method.")
    try:
        intent = payments.pay_invoice(
            sandbox,
            account,
            invoice,
            method=method,  # type: ignore[arg-type]
            card_number=number if kind == "card" else None,
        )
    except StripeError as exc:
        return 400, ("error", exc.message)
    if intent["status"] == "succeeded":
        return 200, ("ok", "Payment successful. Thank you!")
    if intent["status"] == "processing":
        return 200, ("info", "Payment processing: your bank payment has been submitted.")
    error = intent.get("last_payment_error") or {}
    return 402, ("error", error.get("message") or "Your card was declined.")
