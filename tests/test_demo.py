"""`regentra demo` (what `make demo` runs): fresh SQLite, seeded, served; the logins work."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port
from support.demo_process import running_demo
from web.pages import PageClient

DEMO_FILES = ("demo.db", "demo-stripe.json", "demo-quickbooks.json")

pytestmark = [pytest.mark.e2e]


def test_demo_serves_and_printed_logins_work(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        base, sandbox, quickbooks = demo.base, demo.stripe, demo.quickbooks
        printed = demo.printed
        assert "sk_test_" not in printed and "whsec_" not in printed
        assert f"{base}/login" in printed
        logins = re.findall(r"^\s+(admin|approver|technician)\s+(\S+@\S+)\s+(\S+)$", printed, re.M)
        assert {role for role, _, _ in logins} == {"admin", "approver", "technician"}
        for _role, email, password in logins:
            with PageClient(base) as browser:
                browser.login(email, password)
                home = browser.get("/")
                assert home.status_code == 200 and "Northwind IT Services" in home.text
                time_page = browser.get("/time")
                assert time_page.status_code == 200
        # Entries in every state exist.
        with PageClient(base) as browser:
            browser.login("approver@northwind.example", "regentra-demo")
            approvals = browser.get("/approvals").text
            assert "submitted" in approvals.lower()
        # The org is connected to the sandbox: the catalog fills by itself, and the
        # org's webhook URL is registered there.
        with PageClient(base) as browser:
            browser.login("admin@northwind.example", "regentra-demo")
            deadline = time.monotonic() + 20
            while "Managed endpoint" not in (catalog := browser.get("/catalog").text):
                assert time.monotonic() < deadline, catalog
                time.sleep(0.5)
            assert "Remote support hour" in catalog
            integrations = browser.get("/integrations").text
            assert "/api/webhooks/stripe/" in integrations
            assert "sk_test_" not in integrations.replace("sk_test_…", "")
        # The local Stripe sandbox runs beside it.
        assert sandbox in printed
        account = httpx.get(
            sandbox + "/v1/account", headers={"Authorization": "Bearer sk_test_demo1234567890"}
        )
        assert account.status_code == 200 and account.json()["object"] == "account"
        # So does the QuickBooks Online sandbox, with its seeded companies' books.
        assert quickbooks in printed
        books = httpx.get(quickbooks + "/")
        assert books.status_code == 200 and "/company/" in books.text, books.text
        # Approved time is ready to invoice: generate, send, pay on the sandbox, and the
        # invoice turns Paid through the demo org's signed webhook.
        with PageClient(base) as browser:
            browser.login("admin@northwind.example", "regentra-demo")
            ready = browser.get("/invoices/new").text
            match = re.search(
                r'<option value="([0-9a-f-]{36})"[^>]*>Contoso Dental \(USD\)</option>', ready
            )
            assert match, ready
            made = browser.post("/invoices", {"client_id": match.group(1)})
            assert made.status_code == 303, made.text
            path = made.headers["location"]
            sent = browser.follow(browser.post(f"{path}/send")).text
            assert 'data-status="sent"' in sent, sent
            demo_key = {"Authorization": "Bearer sk_test_RegentraDemo0001"}
            newest = httpx.get(f"{sandbox}/v1/invoices?limit=1", headers=demo_key).json()
            stripe_id = newest["data"][0]["id"]
            paid = httpx.post(f"{sandbox}/_sandbox/invoices/{stripe_id}/pay", headers=demo_key)
            assert paid.status_code == 200, paid.text
            deadline = time.monotonic() + 20
            while 'data-status="paid"' not in (page := browser.get(path).text):
                assert time.monotonic() < deadline, page
                time.sleep(0.3)
            # The demo org is connected to the QuickBooks sandbox's US company and mapped:
            # the invoice is mirrored there, with its Payment and the fee's Purchase.
            integrations = browser.get("/integrations").text
            assert "Regentra Sandbox US" in integrations and 'data-saved="true"' in integrations
            companies = httpx.get(f"{quickbooks}/_sandbox/companies").json()["data"]
            realm = next(c["realm_id"] for c in companies if c["name"] == "Regentra Sandbox US")
            deadline = time.monotonic() + 30
            while True:
                books = httpx.get(f"{quickbooks}/_sandbox/companies/{realm}/objects").json()
                if books.get("Payment") and books.get("Purchase"):
                    break
                assert time.monotonic() < deadline, (books.keys(), browser.get(path).text)
                time.sleep(0.5)
            (mirrored,) = books["Invoice"]
            assert mirrored["Balance"] == 0
            assert len(books["Payment"]) == 1 and len(books["Purchase"]) == 1
            # Platform billing is on against a second sandbox account: the org is in its
            # trial; subscribing on Stripe Checkout turns it active through the platform's
            # own webhook, delivered by the sandbox to the demo server.
            billing = browser.get("/billing").text
            assert 'data-status="trial"' in billing and 'id="subscribe-starter"' in billing
            chosen = browser.post("/billing/checkout", {"plan": "starter"})
            assert chosen.status_code == 303, chosen.text
            checkout = chosen.headers["location"]
            assert checkout.startswith(sandbox + "/c/pay/")
            card = {"card_number": "4242 4242 4242 4242", "exp": "12 / 34", "cvc": "123"}
            paid = httpx.post(checkout, data={**card, "name": "Demo Admin"}, timeout=30)
            assert paid.status_code == 303, paid.text
            deadline = time.monotonic() + 20
            while 'data-status="active"' not in (billing := browser.get("/billing").text):
                assert time.monotonic() < deadline, billing
                time.sleep(0.3)
            assert "Starter plan" in billing
    db = tmp_path / "var" / "demo.db"
    assert db.exists()
    kept = tmp_path / "var" / "demo-platform-webhook-secret"
    assert kept.read_text().startswith("whsec_") and kept.stat().st_mode & 0o777 == 0o600


def test_demo_refuses_ports_in_use_before_touching_var(tmp_path: Path) -> None:
    """A second `make demo` while one runs: a clear message, and its var/ is left alone."""
    var = tmp_path / "var"
    var.mkdir()
    kept = {name: f"{name} of the demo already running" for name in DEMO_FILES}
    for name, text in kept.items():
        (var / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGENTRA_")}
    env["REGENTRA_VAR_DIR"] = str(var)
    ports = {"--port": free_port(), "--stripe-port": free_port(), "--quickbooks-port": free_port()}
    for flag in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
            held.bind(("127.0.0.1", ports[flag]))
            held.listen()
            args = [a for f, p in ports.items() for a in (f, str(p))]
            done = subprocess.run(
                [sys.executable, "-m", "regentra", "demo", *args],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"Port {ports[flag]} on 127.0.0.1 is in use" in done.stdout + done.stderr
        assert {p.name: p.read_text() for p in var.iterdir()} == kept
