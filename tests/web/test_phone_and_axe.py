"""The key pages on a phone and to a screen reader, in Debian's Chromium (issue 15, acceptance 2).

At 390 x 844 each page fits: the page never scrolls sideways (`scrollWidth` <= 390) and every
visible element lies within [0, 390] horizontally, nothing excluded (tables become stacked
rows, no wrapper scrolls by itself, so a cut-off amount or button is caught). axe-core (the
`axe-playwright-python` package's copy) finds no serious or critical violation on each page,
at 390 and at 1280 wide.

One real server with platform billing on (a trial: the Billing page shows its plans) and one
org with everything the pages show, made once for the module: time in every state, entries
waiting for approval, a month-end run for last month generated and sent (one client left
out), an invoice paid through Stripe's webhook and an open one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from conftest import Database, LiveServer, free_port, start_server, stop_server
from integrations.conftest import Billing, StripeApp, connect_billing
from integrations.platform.conftest import platform_setup_cli
from playwright.sync_api import Browser, Page
from sandbox.stripe.conftest import StripeSandbox
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from regentra.db import make_engine
from regentra.migrate import upgrade
from regentra.models import TimeEntry
from web.test_browser import sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PAGES = [
    "dashboard",
    "time",
    "approvals",
    "invoices",
    "invoice",
    "invoice-run",
    "integrations",
    "billing",
]
OTHER_PAGES = [
    "agreement",
    "time list",
    "tickets",
    "ticket",
    "clients",
    "client",
    "invoice runs",
    "new invoice",
    "payouts",
    "catalog",
    "search",
    "audit",
    "settings",
    "users",
    "tokens",
]
LONG = "Northwind Traders International Holdings (Europe) Ltd"


@dataclass
class Org:
    base: str
    billing: Billing
    paths: dict[str, str]
    storage: dict[str, Any]  # the admin's signed-in browser state (cookies)


@pytest.fixture(scope="module")
def billed_server(
    tmp_path_factory: pytest.TempPathFactory, app_sandbox: StripeSandbox
) -> Iterator[StripeApp]:
    """`regentra serve` with platform billing on (set up as an operator would), its own
    SQLite database and job queue, talking to the session's Stripe sandbox."""
    folder = tmp_path_factory.mktemp("phone")
    url = f"sqlite:///{folder / 'phone.db'}"
    upgrade(url)
    port = free_port()
    env = {
        "REGENTRA_DATABASE_URL": url,
        "REGENTRA_BASE_URL": f"http://127.0.0.1:{port}",
        "REGENTRA_STRIPE_API_BASE": app_sandbox.url,
        "REGENTRA_PLATFORM_STRIPE_SECRET_KEY": f"sk_test_platform{uuid.uuid4().hex}",
        "REGENTRA_QUEUE_URL": f"sqlite:///{folder / 'queue.db'}",
    }
    env["REGENTRA_PLATFORM_STRIPE_WEBHOOK_SECRET"] = platform_setup_cli(env)
    engine = make_engine(url)
    server: LiveServer = start_server(url, extra_env=env, port=port)
    try:
        database = Database("sqlite", url, sessionmaker(bind=engine, expire_on_commit=False))
        yield StripeApp(server, app_sandbox, database)
    finally:
        stop_server(server)
        engine.dispose()


def _wait_for(what: str, check: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {seconds}s for {what}"
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def org(billed_server: StripeApp, chromium: Browser) -> Org:
    billing = connect_billing(billed_server)
    kit = billing.kit
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    last = date.today().replace(day=1) - timedelta(days=3)
    wordy = (
        "Replaced the failed RAID controller on the file server, restored the shares from "
        "last night's backup and checked every department's mapped drives"
    )

    # A month-end run for last month: three clients, one left out; sent by the server's job.
    clients = []
    for n, name in enumerate((LONG, "Contoso Dental", "Fabrikam Legal")):
        client = kit.client(name=name, hourly_rate=12500)
        ticket = kit.ticket(client, title=f"Quarterly maintenance visit {n}")
        for minutes in (95, 40):
            kit.entry(tech, ticket=ticket, minutes=minutes, status="approved",
                      approver=approver, work_date=last)  # fmt: skip
        clients.append(client)
    with kit.api() as api:
        run = api.post("/invoice-runs", json={"period": last.strftime("%Y-%m")}).json()
        ticked = {"client_ids": [str(c.id) for c in clients[:2]]}
        generated = api.post(f"/invoice-runs/{run['id']}/generate", json=ticked)
        assert generated.status_code == 200, generated.text
        assert api.post(f"/invoice-runs/{run['id']}/send").status_code == 202

        def run_done() -> dict[str, Any] | None:
            got: dict[str, Any] = api.get(f"/invoice-runs/{run['id']}").json()
            return got if got["status"] == "done" else None

        run = _wait_for("the run to be sent", run_done)
    assert run["progress"]["counts"] == {"sent": 2, "excluded": 1}, run
    invoice_id = next(i["invoice_id"] for i in run["items"] if i["client_name"] == LONG)

    # One invoice paid through Stripe (the webhook reaches the server): the dashboard's chart.
    paid = billing.sent_invoice(minutes=150, entries=2)
    with billing.control() as control:
        control.post(f"/_sandbox/invoices/{paid['stripe_invoice_id']}/pay").raise_for_status()
    with kit.api() as api:
        _wait_for(
            "the paid webhook",
            lambda: api.get(f"/invoices/{paid['id']}").json()["status"] == "paid",
        )

    # The admin's own time in every state this week, and a technician's waiting for approval.
    ticket = kit.ticket(clients[2], title="Firewall firmware upgrade and VPN re-keying")
    for status in ("draft", "submitted", "approved", "rejected"):
        kit.entry(kit.admin, ticket=ticket, minutes=75, status=status, approver=approver)
    for minutes in (45, 120, 30):
        kit.entry(tech, ticket=ticket, minutes=minutes, status="submitted")
    kit.entry(tech, ticket=ticket, minutes=60, status="approved", approver=approver)
    with kit.db.session() as s:  # long descriptions, as technicians write them
        s.execute(
            update(TimeEntry)
            .where(TimeEntry.org_id == kit.org.id, TimeEntry.status.in_(("draft", "submitted")))
            .values(description=wordy)
        )
        s.commit()

    # An agreement with included hours and a line changed from next month (issue 17).
    with kit.api() as api:
        agreement = api.post(
            "/agreements",
            json={
                "client_id": str(clients[0].id),
                "name": "Managed services with a rather long name for a phone",
                "starts_on": date.today().replace(day=1).isoformat(),
                "included_minutes": 600,
                "hourly_rate": 15000,
                "lines": [
                    {"description": "Managed endpoint", "quantity": 25, "unit_amount": 2500},
                    {"description": wordy, "quantity": 3, "unit_amount": 900},
                ],
            },
        ).json()
        line_id = agreement["lines"][0]["id"]
        next_month = (date.today().replace(day=28) + timedelta(days=4)).replace(day=1)
        api.post(
            f"/agreements/{agreement['id']}/lines/{line_id}/changes",
            json={"effective_from": next_month.isoformat(), "quantity": 30},
        ).raise_for_status()

    base = billed_server.server.url
    context = chromium.new_context()
    page = context.new_page()
    sign_in(page, base, kit.admin.email)
    storage = context.storage_state()
    context.close()
    paths = {
        "dashboard": "/",
        "time": "/time/week",
        "approvals": "/approvals",
        "invoices": "/invoices",
        "invoice": f"/invoices/{invoice_id}",
        "invoice-run": f"/invoice-runs/{run['id']}",
        "integrations": "/integrations",
        "billing": "/billing",
        # The other pages, checked for fit only.
        "time list": "/time",
        "tickets": "/tickets",
        "ticket": f"/tickets/{ticket.id}",
        "clients": "/clients",
        "client": f"/clients/{clients[0].id}",
        "agreement": f"/agreements/{agreement['id']}",
        "invoice runs": "/invoice-runs",
        "new invoice": "/invoices/new",
        "payouts": "/payouts",
        "catalog": "/catalog",
        "search": "/search?q=Northwind",
        "audit": "/audit",
        "settings": "/settings",
        "users": "/users",
        "tokens": "/tokens",
    }
    return Org(base, billing, paths, storage)


@pytest.fixture
def open_page(org: Org, chromium: Browser) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_(name: str, viewport: dict[str, int], *, script: bool = True) -> Page:
        context = chromium.new_context(
            viewport=viewport, storage_state=org.storage, java_script_enabled=script
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        response = page.goto(org.base + org.paths[name])
        assert response is not None and response.status == 200, (name, response)
        page.wait_for_load_state("load")
        assert page.locator("#account-name").count() == 1, f"{name}: not signed in"
        return page

    yield open_
    for context in contexts:
        context.close()


# Every element the user can see (not display:none, not visibility:hidden, not inside a
# closed <details>, not an empty box), with its left and right edge: the ones outside the
# viewport's width, described by tag, id, classes and text.
OUTSIDE = """(width) => {
  const outside = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (!el.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true})) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.right > width + 0.5) {
      const id = el.id ? "#" + el.id : "";
      const cls = el.classList.length ? "." + [...el.classList].join(".") : "";
      const text = (el.innerText || el.value || "").trim().replace(/\\s+/g, " ").slice(0, 40);
      outside.push(`${el.tagName.toLowerCase()}${id}${cls} [${Math.round(r.left)}, ` +
                   `${Math.round(r.right)}] "${text}"`);
    }
  }
  return outside;
}"""


def _serious(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(", ".join(n["target"]) for n in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("name", PAGES)
def test_each_key_page_fits_a_phone_and_axe_finds_nothing_serious(
    name: str, open_page: Any
) -> None:
    page = open_page(name, PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways: scrollWidth {width}"
    outside = page.evaluate(OUTSIDE, PHONE["width"])
    assert not outside, f"{name}: elements outside [0, 390]:\n" + "\n".join(outside[:30])
    # The menu is folded: its links are hidden until Menu is pressed, then all reachable.
    menu = page.locator("#menu-toggle")
    assert menu.is_visible(), f"{name}: no Menu button at phone width"
    nav = page.locator("nav.nav")
    assert not nav.is_visible(), f"{name}: the menu is not folded"
    menu.click()
    assert nav.get_by_role("link", name="Invoices").is_visible()
    outside = page.evaluate(OUTSIDE, PHONE["width"])
    assert not outside, f"{name}, menu open: outside [0, 390]:\n" + "\n".join(outside[:30])
    serious = _serious(page)
    assert not serious, f"{name} at 390 px: axe found\n" + "\n".join(serious)


@pytest.mark.parametrize("name", OTHER_PAGES)
def test_every_other_page_fits_a_phone(name: str, open_page: Any) -> None:
    page = open_page(name, PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways: scrollWidth {width}"
    outside = page.evaluate(OUTSIDE, PHONE["width"])
    assert not outside, f"{name}: elements outside [0, 390]:\n" + "\n".join(outside[:30])
    serious = _serious(page)
    assert not serious, f"{name} at 390 px: axe found\n" + "\n".join(serious)


@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_nothing_serious_on_each_key_page_at_desktop_width(
    name: str, open_page: Any
) -> None:
    page = open_page(name, DESKTOP)
    assert page.locator("nav.nav").get_by_role("link", name="Invoices").is_visible()
    assert not page.locator("#menu-toggle").is_visible()
    serious = _serious(page)
    assert not serious, f"{name} at 1280 px: axe found\n" + "\n".join(serious)


def test_the_sign_in_page_fits_a_phone(org: Org, chromium: Browser) -> None:
    context = chromium.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(org.base + "/login")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.evaluate(OUTSIDE, PHONE["width"]) == []
        assert page.locator("#menu-toggle").count() == 0  # no menu before signing in
        serious = _serious(page)
        assert not serious, "sign-in page: axe found\n" + "\n".join(serious)
    finally:
        context.close()


def test_tables_stack_into_named_rows_and_the_check_catches_one_too_wide(
    open_page: Any,
) -> None:
    """At 390 px the invoices table is a card per invoice, each value beside its column's
    name and the total in view; the overflow check reports a row widened past the screen."""
    page = open_page("invoices", PHONE)
    row = page.locator("#invoices tbody tr").first
    total = row.locator("td.num")
    assert total.get_attribute("data-label") == "Total"
    box, row_box = total.bounding_box(), row.bounding_box()
    assert box and row_box and box["width"] > row_box["width"] * 0.9  # a line of its own
    assert page.locator("#invoices thead").bounding_box()["height"] <= 1  # type: ignore[index]
    assert page.evaluate(OUTSIDE, PHONE["width"]) == []
    total.evaluate("td => { td.style.whiteSpace = 'nowrap'; td.style.minWidth = '600px'; }")
    assert any("td.num" in line for line in page.evaluate(OUTSIDE, PHONE["width"]))


def test_without_javascript_the_menu_still_opens_and_the_page_fits(open_page: Any) -> None:
    page = open_page("invoice", PHONE, script=False)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(OUTSIDE, PHONE["width"]) == []
    nav = page.locator("nav.nav")
    assert not nav.is_visible()
    page.locator("#menu-toggle").click()
    assert nav.get_by_role("link", name="Billing").is_visible()
    assert page.locator("#sign-out").is_visible()
