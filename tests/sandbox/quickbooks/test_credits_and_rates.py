"""A CreditMemo applied in a Payment (a `LinkedTxn` to the CreditMemo beside the one to the
Invoice, as Intuit documents applying a credit: a zero-dollar payment links the two), and
the ExchangeRate entity, through real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from intuitlib.client import AuthClient

from sandbox.quickbooks.conftest import QboSandbox
from sandbox.quickbooks.helpers import created, customer, fault, find, invoice, post


def _memo(api: httpx.Client, cust: str, amount: float) -> dict[str, Any]:
    item = find(api, "Item", "Services")["Id"]
    return created(
        api,
        "CreditMemo",
        {
            "CustomerRef": {"value": cust},
            "Line": [
                {
                    "Amount": amount,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item}},
                }
            ],
        },
    )


def _payment(cust: str, total: float, *links: tuple[str, str, float]) -> dict[str, Any]:
    return {
        "CustomerRef": {"value": cust},
        "TotalAmt": total,
        "Line": [
            {"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": kind}]}
            for kind, txn_id, amount in links
        ],
    }


def test_a_credit_memo_applied_in_a_payment_settles_the_invoice(
    qbo: QboSandbox, us: AuthClient
) -> None:
    with qbo.http(us) as api:
        cust = customer(api)["Id"]
        inv = invoice(api, cust, 180)
        memo = _memo(api, cust, 50)
        body = _payment(cust, 130, ("Invoice", inv["Id"], 180), ("CreditMemo", memo["Id"], 50))
        paid = created(api, "Payment", body)
        assert paid["TotalAmt"] == 130 and paid["UnappliedAmt"] == 0
        assert api.get(f"/invoice/{inv['Id']}").json()["Invoice"]["Balance"] == 0
        after = api.get(f"/creditmemo/{memo['Id']}").json()["CreditMemo"]
        assert after["RemainingCredit"] == 0
        assert {"TxnId": paid["Id"], "TxnType": "Payment"} in after["LinkedTxn"]
        # Applied credit is used up: a second payment cannot use it again.
        other = invoice(api, cust, 10)
        again = _payment(cust, 0, ("Invoice", other["Id"], 10), ("CreditMemo", memo["Id"], 10))
        assert "remaining credit" in fault(post(api, "Payment", again))["Detail"]
        # A credit memo with payments applied cannot be deleted; voiding the payment frees it.
        gone = post(api, "CreditMemo", {"Id": memo["Id"], "SyncToken": after["SyncToken"]},
                    operation="delete")  # fmt: skip
        assert "payments applied" in fault(gone)["Detail"]
        voided = post(api, "Payment", {"Id": paid["Id"], "SyncToken": paid["SyncToken"]},
                      operation="void")  # fmt: skip
        assert voided.status_code == 200, voided.text
        freed = api.get(f"/creditmemo/{memo['Id']}").json()["CreditMemo"]
        assert freed["RemainingCredit"] == 50
        assert api.get(f"/invoice/{inv['Id']}").json()["Invoice"]["Balance"] == 180


def test_a_zero_dollar_payment_applies_a_credit_and_credits_never_exceed_invoices(
    qbo: QboSandbox, us: AuthClient
) -> None:
    with qbo.http(us) as api:
        cust = customer(api)["Id"]
        inv = invoice(api, cust, 120)
        memo = _memo(api, cust, 200)
        body = _payment(cust, 0, ("Invoice", inv["Id"], 120), ("CreditMemo", memo["Id"], 120))
        created(api, "Payment", body)
        assert api.get(f"/invoice/{inv['Id']}").json()["Invoice"]["Balance"] == 0
        assert api.get(f"/creditmemo/{memo['Id']}").json()["CreditMemo"]["RemainingCredit"] == 80
        other = invoice(api, cust, 10)
        over = _payment(cust, 0, ("Invoice", other["Id"], 10), ("CreditMemo", memo["Id"], 20))
        assert "exceed" in fault(post(api, "Payment", over))["Detail"]
        stranger = customer(api)["Id"]
        theirs = invoice(api, stranger, 10)
        wrong = _payment(stranger, 0, ("Invoice", theirs["Id"], 10), ("CreditMemo", memo["Id"], 10))
        assert "another customer" in fault(post(api, "Payment", wrong))["Detail"]
        missing = _payment(cust, 0, ("Invoice", other["Id"], 10), ("CreditMemo", "999999", 10))
        assert fault(post(api, "Payment", missing))["code"] == "2500"
        refund = _payment(cust, 10, ("RefundReceipt", "1", 10))
        assert "Invoice or CreditMemo" in fault(post(api, "Payment", refund))["Detail"]


def test_exchange_rates_are_home_currency_units_per_foreign_unit(
    qbo: QboSandbox, us: AuthClient, uk: AuthClient
) -> None:
    with qbo.http(uk) as api:
        answer = api.get("/exchangerate", params={"sourcecurrencycode": "USD",
                                                  "asofdate": "2026-12-01"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        rate = answer.json()["ExchangeRate"]
        assert (rate["SourceCurrencyCode"], rate["TargetCurrencyCode"]) == ("USD", "GBP")
        assert rate["Rate"] == 0.787402 and rate["AsOfDate"] == "2026-12-01"
        assert fault(api.get("/exchangerate"))["code"] == "2020"
        bad = api.get("/exchangerate", params={"sourcecurrencycode": "EUR", "asofdate": "1 Dec"})
        assert fault(bad)["element"] == "asofdate"
    with qbo.http(us) as api:  # multicurrency off: no exchange rates
        off = api.get("/exchangerate", params={"sourcecurrencycode": "EUR"})
        assert "Multicurrency" in fault(off)["Detail"]
