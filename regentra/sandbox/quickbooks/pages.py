"""A read-only company view for the demo: invoices, payments, purchases and account
balances, so a person can see what Regentra posted. Not Intuit's UI."""

from __future__ import annotations

import html
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from regentra.sandbox.quickbooks.ledger import balances
from regentra.sandbox.quickbooks.state import Company, Sandbox


def _table(title: str, heads: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{body or ''}</table>"


def _name(company: Company, entity: str, ref: dict[str, Any] | None) -> str:
    obj = company.of(entity).get((ref or {}).get("value", ""))
    return str(obj.get("DisplayName") or obj.get("Name")) if obj else ""


def routes(sandbox: Sandbox) -> list[Route]:
    def index(_request: Request) -> HTMLResponse:
        with sandbox.lock:
            items = "".join(
                f'<li><a href="/company/{c.realm_id}">{html.escape(c.name)}</a> '
                f"({c.home_currency})</li>"
                for c in sandbox.companies.values()
            )
        return HTMLResponse(f"<!doctype html><title>QuickBooks sandbox</title><ul>{items}</ul>")

    def company_page(request: Request) -> HTMLResponse:
        with sandbox.lock:
            company = sandbox.company(request.path_params["realm"])
            if company is None:
                return HTMLResponse("no such company", status_code=404)
            amounts = balances(company)
            parts = [
                _table("Invoices", ["Id", "Number", "Customer", "Total", "Balance", "Currency"],
                       [[i["Id"], i.get("DocNumber", ""),
                         _name(company, "Customer", i["CustomerRef"]), i["TotalAmt"],
                         i["Balance"], i["CurrencyRef"]["value"]]
                        for i in company.of("Invoice").values()]),
                _table("Payments", ["Id", "Customer", "Total", "Unapplied", "Invoices"],
                       [[p["Id"], _name(company, "Customer", p["CustomerRef"]), p["TotalAmt"],
                         p["UnappliedAmt"],
                         ", ".join(t["TxnId"] for ln in p["Line"] for t in ln["LinkedTxn"])]
                        for p in company.of("Payment").values()]),
                _table("Purchases", ["Id", "Type", "Account", "Payee", "Total"],
                       [[p["Id"], p["PaymentType"], _name(company, "Account", p["AccountRef"]),
                         _name(company, "Vendor", p.get("EntityRef")), p["TotalAmt"]]
                        for p in company.of("Purchase").values()]),
                _table("Account balances", ["Account", "Type", "Balance"],
                       [[a["Name"], a["AccountType"], amounts[a["Id"]]]
                        for a in company.of("Account").values()]),
            ]  # fmt: skip
            title = html.escape(
                f"{company.name} ({company.home_currency}, realm {company.realm_id})"
            )
        return HTMLResponse(
            f"<!doctype html><title>{title}</title><h1>{title}</h1>"
            "<p>Read-only view of the sandbox company.</p>" + "".join(parts)
        )

    return [Route("/", index), Route("/company/{realm}", company_page)]
