"""QuickBooks' validation: payments against invoices, purchases, references, names, amounts,
document numbers and multicurrency, each refused with Intuit's fault shape."""

from __future__ import annotations

from typing import Any

import httpx
from intuitlib.client import AuthClient

from sandbox.quickbooks.conftest import QboSandbox, unique
from sandbox.quickbooks.helpers import created, customer, fault, find, invoice, post


def _payment(cust: str, total: float, links: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "CustomerRef": {"value": cust},
        "TotalAmt": total,
        "Line": [
            {"Amount": amount, "LinkedTxn": [{"TxnId": txn, "TxnType": "Invoice"}]}
            for txn, amount in links
        ],
    }


def test_payment_lowers_the_invoice_balance_and_overpaying_is_refused(
    qbo: QboSandbox, us: AuthClient
) -> None:
    with qbo.http(us) as api:
        cust = customer(api)["Id"]
        inv = invoice(api, cust, 100)
        assert inv["Balance"] == 100
        paid = created(api, "Payment", _payment(cust, 60, [(inv["Id"], 60)]))
        assert paid["UnappliedAmt"] == 0
        after = api.get(f"/invoice/{inv['Id']}").json()["Invoice"]
        assert after["Balance"] == 40
        assert {"TxnId": paid["Id"], "TxnType": "Payment"} in after["LinkedTxn"]
        # A second payment applying more than the open balance is refused, nothing changes.
        error = fault(post(api, "Payment", _payment(cust, 50, [(inv["Id"], 50)])))
        assert error["code"] == "6000" and "exceeds its open balance" in error["Detail"]
        assert api.get(f"/invoice/{inv['Id']}").json()["Invoice"]["Balance"] == 40
        # Paying more than is applied leaves the rest unapplied (a credit).
        rest = created(api, "Payment", _payment(cust, 50, [(inv["Id"], 40)]))
        assert rest["UnappliedAmt"] == 10
        assert api.get(f"/invoice/{inv['Id']}").json()["Invoice"]["Balance"] == 0
        closed = fault(post(api, "Payment", _payment(cust, 1, [(inv["Id"], 1)])))
        assert "already paid" in closed["Detail"]
        # Voiding a payment gives the invoice its balance back, as a change of the invoice
        # (new SyncToken), so a sync by LastUpdatedTime sees it.
        paid_up = api.get(f"/invoice/{inv['Id']}").json()["Invoice"]
        voided = post(api, "Payment", {"Id": rest["Id"], "SyncToken": rest["SyncToken"]},
                      operation="void").json()["Payment"]  # fmt: skip
        assert voided["TotalAmt"] == 0 and voided["PrivateNote"] == "Voided"
        reopened = api.get(f"/invoice/{inv['Id']}").json()["Invoice"]
        assert reopened["Balance"] == 40
        assert int(reopened["SyncToken"]) > int(paid_up["SyncToken"])


def test_payment_must_link_an_invoice_of_the_same_customer(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        one, other = customer(api)["Id"], customer(api)["Id"]
        inv = invoice(api, one, 10)
        error = fault(post(api, "Payment", _payment(other, 10, [(inv["Id"], 10)])))
        assert "another customer" in error["Detail"]
        missing = fault(post(api, "Payment", _payment(one, 10, [("999999", 10)])))
        assert missing["code"] == "2500"
        assert fault(post(api, "Payment", {"CustomerRef": {"value": one}}))["code"] == "2020"
        short = fault(post(api, "Payment", _payment(one, 5, [(inv["Id"], 10)])))
        assert short["element"] == "TotalAmt"


def _purchase(
    api: httpx.Client, kind: str, account: str, expense: str, **extra: Any
) -> httpx.Response:
    body = {
        "PaymentType": kind,
        "AccountRef": {"value": find(api, "Account", account)["Id"]},
        "EntityRef": {
            "value": find(api, "Vendor", "Stripe", "DisplayName")["Id"],
            "type": "Vendor",
        },
        "Line": [
            {
                "Amount": 2.9,
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {
                    "AccountRef": {"value": find(api, "Account", expense)["Id"]}
                },
            }
        ],
        **extra,
    }
    return post(api, "Purchase", body)


def test_purchase_rules(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        ok = _purchase(api, "Cash", "Stripe Clearing", "Merchant Fees", TotalAmt=2.9)
        assert ok.status_code == 200 and ok.json()["Purchase"]["TotalAmt"] == 2.9
        card = _purchase(api, "CreditCard", "Company Card", "Merchant Fees")
        assert card.status_code == 200
        assert (
            "credit card"
            in fault(_purchase(api, "CreditCard", "Checking", "Merchant Fees"))["Detail"]
        )
        assert (
            "bank account"
            in fault(_purchase(api, "Check", "Company Card", "Merchant Fees"))["Detail"]
        )
        income = fault(_purchase(api, "Cash", "Checking", "Services"))
        assert "not an expense account" in income["Detail"]
        total = fault(_purchase(api, "Cash", "Checking", "Merchant Fees", TotalAmt=3))
        assert total["element"] == "TotalAmt"
        assert (
            fault(_purchase(api, "Cash", "Checking", "Merchant Fees", PaymentType=None))["code"]
            == "2020"
        )


def test_inactive_and_missing_references_are_refused(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        made = customer(api)
        post(api, "Customer", {"Id": made["Id"], "SyncToken": "0", "sparse": True,
                               "Active": False}).raise_for_status()  # fmt: skip
        inactive = fault(post(api, "Invoice", {"CustomerRef": {"value": made["Id"]},
                                               "Line": [{"Amount": 1}]}))  # fmt: skip
        assert inactive["code"] == "610"
        missing = fault(post(api, "Invoice", {"CustomerRef": {"value": "987654"},
                                              "Line": [{"Amount": 1}]}))  # fmt: skip
        assert missing["code"] == "2500"


def test_display_names_are_unique_across_customers_and_vendors(
    qbo: QboSandbox, us: AuthClient
) -> None:
    with qbo.http(us) as api:
        made = customer(api)
        assert fault(post(api, "Customer", {"DisplayName": made["DisplayName"]}))["code"] == "6240"
        assert fault(post(api, "Customer", {"DisplayName": "stripe"}))["code"] == "6240"


def test_amounts_have_two_decimals(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        cust = customer(api)["Id"]
        item = find(api, "Item", "Services")["Id"]
        line = {"Amount": 10.005, "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item}}}  # fmt: skip
        error = fault(post(api, "Invoice", {"CustomerRef": {"value": cust}, "Line": [line]}))
        assert "two decimals" in error["Detail"]
        assert invoice(api, cust, 10.5)["TotalAmt"] == 10.5


def test_duplicate_doc_numbers_are_refused(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        cust = customer(api)["Id"]
        number = unique("R").replace(" ", "")[:20]
        invoice(api, cust, 5, DocNumber=number)
        dup = fault(post(api, "Invoice", {**_invoice_body(api, cust), "DocNumber": number}))
        assert dup["code"] == "6210"


def _invoice_body(api: httpx.Client, cust: str) -> dict[str, Any]:
    item = find(api, "Item", "Services")["Id"]
    return {
        "CustomerRef": {"value": cust},
        "Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": item}}}],
    }  # fmt: skip


def test_multicurrency_rules(qbo: QboSandbox, us: AuthClient, uk: AuthClient) -> None:
    with qbo.http(us) as api:
        refused = fault(post(api, "Customer", {"DisplayName": unique("Euro"),
                                               "CurrencyRef": {"value": "EUR"}}))  # fmt: skip
        assert "Multicurrency is not enabled" in refused["Detail"]
    with qbo.http(uk) as api:
        euro = customer(api, CurrencyRef={"value": "EUR"})
        assert euro["CurrencyRef"] == {"value": "EUR"}
        body = _invoice_body(api, euro["Id"])
        assert fault(post(api, "Invoice", body))["element"] == "ExchangeRate"
        made = created(api, "Invoice", {**body, "ExchangeRate": 0.86})
        assert made["CurrencyRef"] == {"value": "EUR"} and made["ExchangeRate"] == 0.86
        wrong = fault(post(api, "Invoice", {**body, "CurrencyRef": {"value": "GBP"}}))
        assert wrong["element"] == "CurrencyRef"
        home = created(api, "Invoice", _invoice_body(api, customer(api)["Id"]))
        assert home["CurrencyRef"] == {"value": "GBP"} and home["ExchangeRate"] == 1


def test_a_multicurrency_company_needs_currencyref_on_purchases(
    qbo: QboSandbox, uk: AuthClient
) -> None:
    with qbo.http(uk) as api:
        assert fault(_purchase(api, "Cash", "Stripe Clearing", "Merchant Fees"))["code"] == "2020"
        ok = _purchase(
            api, "Cash", "Stripe Clearing", "Merchant Fees", CurrencyRef={"value": "GBP"}
        )
        assert ok.status_code == 200 and ok.json()["Purchase"]["ExchangeRate"] == 1


def test_a_purchase_is_in_its_vendors_currency(qbo: QboSandbox, uk: AuthClient) -> None:
    """A USD expense paid from a USD bank account in a GBP company: the GBP vendor "Stripe"
    is refused as its payee (README rules table), a USD vendor is accepted."""
    with qbo.http(uk) as api:
        name = unique("USD Clearing")
        created(api, "Account", {"Name": name, "AccountType": "Bank",
                                 "CurrencyRef": {"value": "USD"}})  # fmt: skip
        usd = {"CurrencyRef": {"value": "USD"}, "ExchangeRate": 0.787402}
        refused = fault(_purchase(api, "Check", name, "Merchant Fees", **usd))
        assert refused["code"] == "6000" and "payee's currency (GBP)" in refused["Detail"]
        vendor = created(api, "Vendor", {"DisplayName": unique("Stripe (USD)"),
                                         "CurrencyRef": {"value": "USD"}})  # fmt: skip
        ok = _purchase(
            api, "Check", name, "Merchant Fees", **usd,
            EntityRef={"value": vendor["Id"], "type": "Vendor"},
        )  # fmt: skip
        assert ok.status_code == 200, ok.text
        assert ok.json()["Purchase"]["CurrencyRef"]["value"] == "USD"


def test_preferences_decide_duplicate_numbers_and_multicurrency(qbo: QboSandbox) -> None:
    """Preferences are updated like other entities (SyncToken, sparse): custom transaction
    numbers off lets a DocNumber repeat, on refuses it again; multicurrency can be turned on
    (then a foreign-currency customer is accepted) but never off; the home currency is fixed."""
    with qbo.control() as control:
        made = control.post(
            "/_sandbox/companies", json={"name": unique("Prefs Co"), "home_currency": "USD"}
        )
    assert made.status_code == 201, made.text
    auth = qbo.connect(made.json()["realm_id"])
    with qbo.http(auth) as api:

        def prefs() -> dict[str, Any]:
            return dict(api.get("/preferences").json()["Preferences"])

        def change(section: str, **fields: Any) -> httpx.Response:
            now = prefs()
            body = {"Id": now["Id"], "SyncToken": now["SyncToken"], "sparse": True,
                    section: fields}  # fmt: skip
            return post(api, "Preferences", body)

        cust = customer(api)["Id"]
        number = unique("D").replace(" ", "")[:20]
        invoice(api, cust, 5, DocNumber=number)
        assert fault(post(api, "Invoice", {**_invoice_body(api, cust), "DocNumber": number}))
        off = change("SalesFormsPrefs", CustomTxnNumbers=False)
        assert off.status_code == 200, off.text
        again = post(api, "Invoice", {**_invoice_body(api, cust), "DocNumber": number})
        assert again.status_code == 200, again.text
        assert change("SalesFormsPrefs", CustomTxnNumbers=True).status_code == 200
        dup = fault(post(api, "Invoice", {**_invoice_body(api, cust), "DocNumber": number}))
        assert dup["code"] == "6210"
        # Multicurrency: off in this company, so a EUR customer is refused until it is on.
        euro = {"DisplayName": unique("Euro"), "CurrencyRef": {"value": "EUR"}}
        assert fault(post(api, "Customer", euro))
        assert change("CurrencyPrefs", MultiCurrencyEnabled=True).status_code == 200
        assert prefs()["CurrencyPrefs"]["HomeCurrency"]["value"] == "USD"  # kept
        assert post(api, "Customer", euro).status_code == 200
        never_off = fault(change("CurrencyPrefs", MultiCurrencyEnabled=False))
        assert "cannot be turned off" in never_off["Detail"]
        fixed = fault(change("CurrencyPrefs", HomeCurrency={"value": "GBP"}))
        assert "cannot be changed" in fixed["Detail"]
        stale = prefs()
        body = {"Id": stale["Id"], "SyncToken": "0", "sparse": True,
                "SalesFormsPrefs": {"CustomTxnNumbers": False}}  # fmt: skip
        assert fault(post(api, "Preferences", body))["code"] == "5010"


def test_invoice_lines_name_their_own_items_and_may_be_negative(
    qbo: QboSandbox, us: AuthClient
) -> None:
    """Each sales line names its item (lines of one invoice may differ); a credit line on a
    Service item may be negative; `TotalAmt` is the lines' sum."""
    with qbo.http(us) as api:
        cust = customer(api)["Id"]
        services = find(api, "Item", "Services")
        income = services["IncomeAccountRef"]["value"]
        hardware = created(
            api,
            "Item",
            {"Name": unique("Hardware"), "Type": "NonInventory",
             "IncomeAccountRef": {"value": income}},
        )  # fmt: skip

        def line(amount: float, item: str) -> dict[str, Any]:
            return {"Amount": amount, "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item}}}  # fmt: skip

        lines = [line(40, hardware["Id"]), line(-10, hardware["Id"]), line(5, services["Id"])]
        made = created(api, "Invoice", {"CustomerRef": {"value": cust}, "Line": lines})
        assert made["TotalAmt"] == 35 and made["Balance"] == 35
        assert [
            (x["Amount"], x["SalesItemLineDetail"]["ItemRef"]["value"]) for x in made["Line"]
        ] == [(40, hardware["Id"]), (-10, hardware["Id"]), (5, services["Id"])]
