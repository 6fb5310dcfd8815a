"""Issue 15, acceptance 1, in Debian's Chromium on the demo (`regentra demo`, as `make demo`
runs it): the admin makes an invoice run for last month over the demo's clients, generates the
drafts, sends them all while the run's progress bar fills, pays two of them on Stripe's hosted
page (the local sandbox), and the dashboard's outstanding, paid-this-month and its chart of
paid per month change by exactly those amounts."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from support.demo_process import running_demo

from regentra.demo import PASSWORD
from web.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ADMIN = "admin@northwind.example"


def figures(page: Page, base: str) -> dict[str, dict[str, int]]:
    """The dashboard's money figures per currency, in minor units."""
    page.goto(base + "/")
    expect(page.locator("#receivables")).to_be_visible()
    rows: dict[str, dict[str, int]] = {}
    for row in page.locator("#receivables tr[data-currency]").all():
        currency = row.get_attribute("data-currency") or ""
        rows[currency] = {
            str(cell.get_attribute("data-figure")): int(cell.get_attribute("data-amount") or 0)
            for cell in row.locator("td[data-figure]").all()
        }
    return rows


def chart_data(page: Page, currency: str) -> list[float] | None:
    """What Chart.js drew for the paid-per-month chart of `currency` (None: no chart)."""
    data: Any = page.evaluate(
        """(currency) => {
            const canvas = document.querySelector(`#paid-chart-${currency} canvas`);
            const chart = canvas && window.Chart && Chart.getChart(canvas);
            return chart ? chart.data.datasets[0].data : null;
        }""",
        currency,
    )
    return data


def test_month_end_run_send_all_pay_two_and_the_dashboard_follows(
    tmp_path: Path, page: Page
) -> None:
    last_month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    with running_demo(tmp_path) as demo:
        base = demo.base
        sign_in(page, base, ADMIN, PASSWORD)  # the demo's published login
        before = figures(page, base)
        assert set(before) == {"USD", "EUR"}, before  # unbilled time in both
        assert all(f["outstanding"] == 0 and f["paid"] == 0 for f in before.values()), before
        assert chart_data(page, "USD") is None  # nothing paid in twelve months yet

        # Invoices → New run: last month by default; every demo client has time in it.
        page.locator('nav a[href="/invoices"]').click()
        page.locator('a[href="/invoice-runs"]').first.click()
        expect(page.locator("#run-period")).to_have_value(last_month)
        page.get_by_role("button", name="List the clients to bill").click()
        items = page.locator("#run-items tbody tr")
        expect(items).to_have_count(3)
        for name in ("Contoso Dental", "Fabrikam Legal", "Tailspin Logistics"):
            expect(page.locator("#run-items")).to_contain_text(name)
            expect(page.get_by_label(f"Bill {name}")).to_be_checked()
        page.locator("#generate").click()
        expect(page.locator("#flash")).to_be_visible()
        expect(page.locator('#run-items tbody tr[data-state="draft"]')).to_have_count(3)

        # Send all: the page shows the progress bar until every invoice is sent.
        page.locator("#send-all").click()
        expect(page.locator("#send-progress")).to_be_visible()
        expect(page.locator("#send-progress")).to_have_attribute("max", "3")
        expect(page.locator('#run-items tbody tr[data-state="sent"]')).to_have_count(
            3, timeout=60_000
        )
        expect(page.locator("#send-progress")).to_have_attribute("value", "3")
        expect(page.locator("#run-progress label")).to_contain_text("Sent 3 of 3")
        invoices = {
            (row.locator("td").nth(0).inner_text().strip()): row.locator("td a")
            .nth(1)
            .get_attribute("href")
            for row in items.all()
        }
        sent = figures(page, base)
        assert sent["USD"]["unbilled"] < before["USD"]["unbilled"]
        assert sent["USD"]["outstanding"] > 0 and sent["EUR"]["outstanding"] > 0, sent

        # Pay two on the hosted page: Contoso (USD) by card, Tailspin (EUR) by card.
        amounts: dict[str, tuple[str, int]] = {}
        for name in ("Contoso Dental", "Tailspin Logistics"):
            page.goto(base + str(invoices[name]))
            invoice = page.locator("#invoice")
            expect(invoice).to_have_attribute("data-status", "sent")
            currency = "EUR" if name.startswith("Tailspin") else "USD"
            total = int(page.locator("#invoice").get_attribute("data-total") or 0)
            amounts[name] = (currency, total)
            link = page.locator("#payment-link").inner_text().strip()
            hosted = page.context.new_page()
            hosted.goto(link)
            hosted.get_by_label("Card number").fill("4242 4242 4242 4242")
            hosted.get_by_role("button", name=re.compile(r"^Pay (?!by bank)")).click()
            expect(hosted.locator("body")).to_contain_text("Payment successful")
            hosted.close()
            expect(invoice).to_have_attribute("data-status", "paid", timeout=30_000)

        # The dashboard: outstanding down and paid up by exactly what was paid, per currency,
        # and the chart's bar for this month shows it.
        after = figures(page, base)
        for _name, (currency, total) in amounts.items():
            assert after[currency]["outstanding"] == sent[currency]["outstanding"] - total
            assert after[currency]["paid"] == sent[currency]["paid"] + total
            drawn = chart_data(page, currency)
            assert drawn is not None and len(drawn) == 12, drawn
            assert drawn[-1] == pytest.approx(after[currency]["paid"] / 100), drawn
            assert not any(drawn[:-1]), drawn  # nothing before this month
            expect(page.locator(f"#paid-chart-{currency} canvas")).to_be_visible()
        assert after["USD"]["outstanding"] > 0  # Fabrikam is still open
        assert after["EUR"]["outstanding"] == 0
