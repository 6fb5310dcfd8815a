"""Transfer, Deposit, CreditMemo and RefundReceipt through real HTTP: create, read, sparse
update with SyncToken, delete, query, and QuickBooks' validation with its fault shape."""

# QuickBooks query strings built in tests, not SQL:
# ruff: noqa: S608

from __future__ import annotations

from typing import Any

import httpx
from intuitlib.client import AuthClient

from sandbox.quickbooks.conftest import QboSandbox, unique
from sandbox.quickbooks.helpers import created, customer, fault, find, invoice, post


def _account(api: httpx.Client, name: str) -> dict[str, str]:
    return {"value": find(api, "Account", name)["Id"]}


def _transfer(api: httpx.Client, source: str, target: str, amount: Any) -> dict[str, Any]:
    return {"FromAccountRef": _account(api, source), "ToAccountRef": _account(api, target),
            "Amount": amount}  # fmt: skip


def _sales(api: httpx.Client, cust: str, amount: float, **extra: Any) -> dict[str, Any]:
    item = find(api, "Item", "Services")["Id"]
    return {
        "CustomerRef": {"value": cust},
        "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": item}}}],
        **extra,
    }  # fmt: skip


def _paid(api: httpx.Client, amount: float, **extra: Any) -> dict[str, Any]:
    """A customer, an invoice and a payment of it (held in Undeposited Funds by default)."""
    cust = customer(api)["Id"]
    inv = invoice(api, cust, amount)
    line = {"Amount": amount, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}
    body = {"CustomerRef": {"value": cust}, "TotalAmt": amount, "Line": [line], **extra}
    return created(api, "Payment", body)


def _deposit(api: httpx.Client, to: str, *lines: dict[str, Any], **extra: Any) -> httpx.Response:
    return post(api, "Deposit", {"DepositToAccountRef": _account(api, to), "Line": list(lines),
                                 **extra})  # fmt: skip


def _of_payment(payment: dict[str, Any]) -> dict[str, Any]:
    return {"Amount": payment["TotalAmt"],
            "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment"}]}  # fmt: skip


def _direct(api: httpx.Client, account: str, amount: float) -> dict[str, Any]:
    return {"Amount": amount, "DetailType": "DepositLineDetail",
            "DepositLineDetail": {"AccountRef": _account(api, account)}}  # fmt: skip


def test_transfer_rules(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        made = created(api, "Transfer", _transfer(api, "Stripe Clearing", "Checking", 97.1))
        assert made["Amount"] == 97.1 and made["SyncToken"] == "0"
        assert api.get(f"/transfer/{made['Id']}").json()["Transfer"]["Amount"] == 97.1
        same = fault(post(api, "Transfer", _transfer(api, "Checking", "Checking", 5)))
        assert same["code"] == "6000" and "different accounts" in same["Detail"]
        income = fault(post(api, "Transfer", _transfer(api, "Checking", "Services", 5)))
        assert income["element"] == "ToAccountRef"
        expense = fault(post(api, "Transfer", _transfer(api, "Merchant Fees", "Checking", 5)))
        assert expense["element"] == "FromAccountRef"
        for amount in (0, -5):
            zero = fault(post(api, "Transfer", _transfer(api, "Checking", "Company Card", amount)))
            assert zero["element"] == "Amount"
        body = _transfer(api, "Checking", "Stripe Clearing", 5)
        del body["FromAccountRef"]
        assert fault(post(api, "Transfer", body))["code"] == "2020"
        # Sparse update with the SyncToken; a stale token is 5010; then delete.
        changed = created(api, "Transfer", {"Id": made["Id"], "SyncToken": "0", "sparse": True,
                                            "Amount": 90})  # fmt: skip
        assert changed["Amount"] == 90 and changed["SyncToken"] == "1"
        assert changed["FromAccountRef"] == made["FromAccountRef"]
        stale = post(api, "Transfer", {"Id": made["Id"], "SyncToken": "0", "sparse": True,
                                       "Amount": 80})  # fmt: skip
        assert fault(stale)["code"] == "5010"
        query = f"select * from Transfer where Id = '{made['Id']}'"
        (found,) = api.get("/query", params={"query": query}).json()["QueryResponse"]["Transfer"]
        assert found["Amount"] == 90
        gone = post(api, "Transfer", {"Id": made["Id"], "SyncToken": "1"}, operation="delete")
        assert gone.json()["Transfer"]["status"] == "Deleted"
        assert fault(api.get(f"/transfer/{made['Id']}"))["code"] == "610"


def test_deposit_of_payments_from_undeposited_funds(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        payment = _paid(api, 100)
        fee = _direct(api, "Merchant Fees", -2.9)
        made = _deposit(api, "Stripe Clearing", _of_payment(payment), fee).json()["Deposit"]
        assert made["TotalAmt"] == 97.1
        # A payment is deposited once.
        again = fault(_deposit(api, "Checking", _of_payment(payment)))
        assert again["code"] == "6000" and "already been deposited" in again["Detail"]
        # While deposited, the payment cannot be voided, deleted or changed.
        for operation in ("void", "delete"):
            held = post(api, "Payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]},
                         operation=operation)  # fmt: skip
            assert "has been deposited" in fault(held)["Detail"]
        # A sparse update of the deposit itself keeps its own payment line.
        noted = created(api, "Deposit", {"Id": made["Id"], "SyncToken": made["SyncToken"],
                                         "sparse": True, "PrivateNote": "payout po_1"})  # fmt: skip
        assert noted["TotalAmt"] == 97.1 and noted["SyncToken"] == "1"
        # Deleting the deposit frees the payment for another deposit.
        post(api, "Deposit", {"Id": made["Id"], "SyncToken": "1"},
             operation="delete").raise_for_status()  # fmt: skip
        redo = _deposit(api, "Checking", _of_payment(payment)).json()["Deposit"]
        query = f"select * from Deposit where Id in ('{made['Id']}', '{redo['Id']}')"
        (found,) = api.get("/query", params={"query": query}).json()["QueryResponse"]["Deposit"]
        assert found["Id"] == redo["Id"] and found["TotalAmt"] == 100


def test_deposit_rules(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        payment = _paid(api, 40)
        line = _of_payment(payment)
        assert fault(_deposit(api, "Undeposited Funds", line))["element"] == "DepositToAccountRef"
        assert fault(_deposit(api, "Services", line))["element"] == "DepositToAccountRef"
        assert fault(post(api, "Deposit", {"Line": [line]}))["code"] == "2020"
        assert fault(_deposit(api, "Checking"))["code"] == "2020"
        total = fault(_deposit(api, "Checking", line, TotalAmt=39))
        assert total["element"] == "TotalAmt"
        partial = fault(_deposit(api, "Checking", {**line, "Amount": 20}))
        assert "whole payment" in partial["Detail"]
        twice = fault(_deposit(api, "Checking", line, line))
        assert "already been deposited" in twice["Detail"]
        direct = _paid(api, 10, DepositToAccountRef=_account(api, "Checking"))
        straight = fault(_deposit(api, "Stripe Clearing", _of_payment(direct)))
        assert "Undeposited Funds" in straight["Detail"]
        missing = {"Amount": 5, "LinkedTxn": [{"TxnId": "999999", "TxnType": "Payment"}]}
        assert fault(_deposit(api, "Checking", missing))["code"] == "2500"
        negative = fault(_deposit(api, "Checking", _direct(api, "Merchant Fees", -1)))
        assert negative["element"] == "TotalAmt"
        itself = fault(_deposit(api, "Checking", _direct(api, "Checking", 1)))
        assert "account deposited to" in itself["Detail"]
        ok = _deposit(api, "Checking", _direct(api, "Services", 12.5), TotalAmt=12.5)
        assert ok.status_code == 200 and ok.json()["Deposit"]["TotalAmt"] == 12.5


def test_credit_memo_leaves_a_credit(qbo: QboSandbox, us: AuthClient, uk: AuthClient) -> None:
    with qbo.http(uk) as api:
        euro = customer(api, CurrencyRef={"value": "EUR"})["Id"]
        assert fault(post(api, "CreditMemo", _sales(api, euro, 5)))["element"] == "ExchangeRate"
        assert created(api, "CreditMemo", _sales(api, euro, 5, ExchangeRate=0.86))[
            "CurrencyRef"
        ] == {"value": "EUR"}
    with qbo.http(us) as api:
        cust = customer(api)["Id"]
        number = unique("CM").replace(" ", "")[:20]
        memo = created(api, "CreditMemo", _sales(api, cust, 25, DocNumber=number))
        assert fault(post(api, "CreditMemo", _sales(api, cust, 1, DocNumber=number)))["code"] == (
            "6210"
        )
        assert memo["TotalAmt"] == 25 and memo["RemainingCredit"] == 25
        assert fault(post(api, "CreditMemo", {"Line": _sales(api, cust, 1)["Line"]}))["code"] == (
            "2020"
        )
        wrong = {**_sales(api, cust, 1), "Line": [_direct(api, "Services", 1)]}
        assert "SalesItemLineDetail" in fault(post(api, "CreditMemo", wrong))["Detail"]
        assert fault(post(api, "CreditMemo", _sales(api, cust, 0)))["element"] == "TotalAmt"
        changed = created(api, "CreditMemo", {"Id": memo["Id"], "SyncToken": "0", "sparse": True,
                                              "PrivateNote": "refund re_1"})  # fmt: skip
        assert changed["RemainingCredit"] == 25 and changed["CustomerRef"] == memo["CustomerRef"]
        void = post(api, "CreditMemo", {"Id": memo["Id"], "SyncToken": "1"}, operation="void")
        assert fault(void)["code"] == "500"
        gone = post(api, "CreditMemo", {"Id": memo["Id"], "SyncToken": "1"}, operation="delete")
        assert gone.status_code == 200


def test_refund_receipt_rules(qbo: QboSandbox, us: AuthClient, uk: AuthClient) -> None:
    with qbo.http(us) as api:
        cust = customer(api)["Id"]
        assert fault(post(api, "RefundReceipt", _sales(api, cust, 30)))["code"] == "2020"
        for account in ("Services", "Merchant Fees", "Accounts Receivable (A/R)"):
            body = _sales(api, cust, 30, DepositToAccountRef=_account(api, account))
            assert fault(post(api, "RefundReceipt", body))["element"] == "DepositToAccountRef"
        held = _sales(api, cust, 5, DepositToAccountRef=_account(api, "Undeposited Funds"))
        assert post(api, "RefundReceipt", held).status_code == 200
        assert (
            fault(
                post(
                    api,
                    "RefundReceipt",
                    _sales(api, cust, 0, DepositToAccountRef=held["DepositToAccountRef"]),
                )
            )["code"]
            == "6000"
        )
        body = _sales(api, cust, 30, DepositToAccountRef=_account(api, "Stripe Clearing"))
        refund = created(api, "RefundReceipt", body)
        assert refund["TotalAmt"] == 30
        assert fault(post(api, "RefundReceipt", {**body, "CustomerRef": None}))["code"] == "2020"
        stale = post(api, "RefundReceipt", {"Id": refund["Id"], "SyncToken": "7", "sparse": True})
        assert fault(stale)["code"] == "5010"
        query = f"select * from RefundReceipt where Id = '{refund['Id']}'"
        assert api.get("/query", params={"query": query}).json()["QueryResponse"]["RefundReceipt"]
    with qbo.http(uk) as api:
        euro = customer(api, CurrencyRef={"value": "EUR"})["Id"]
        usd = created(api, "Account", {"Name": unique("USD Bank"), "AccountType": "Bank",
                                       "CurrencyRef": {"value": "USD"}})  # fmt: skip
        body = _sales(api, euro, 30, DepositToAccountRef={"value": usd["Id"]},
                      ExchangeRate=0.86)  # fmt: skip
        assert "currency" in fault(post(api, "RefundReceipt", body))["Detail"]
        # From a home-currency (GBP) account: allowed, the account moves by 30 * 0.86.
        before = float(find(api, "Account", "Checking")["CurrentBalance"])
        home = _sales(api, euro, 30, DepositToAccountRef=_account(api, "Checking"),
                      ExchangeRate=0.86)  # fmt: skip
        assert created(api, "RefundReceipt", home)["CurrencyRef"]["value"] == "EUR"
        after = float(find(api, "Account", "Checking")["CurrentBalance"])
        assert round(before - after, 2) == 25.8


def _balance(api: httpx.Client, name: str) -> float:
    return float(find(api, "Account", name)["CurrentBalance"])


def test_current_balance_follows_the_transactions(qbo: QboSandbox, us: AuthClient) -> None:
    """Account.CurrentBalance (read-only) of balance-sheet accounts moves with each payment,
    purchase, refund receipt, deposit and transfer (assets debit-positive, a credit card
    credit-positive); a deleted transaction counts no more; expense accounts keep 0."""
    names = ("Stripe Clearing", "Checking", "Company Card", "Merchant Fees")
    with qbo.http(us) as api:
        before = {name: _balance(api, name) for name in names}
        clearing = _account(api, "Stripe Clearing")
        fees = _account(api, "Merchant Fees")
        _paid(api, 100, DepositToAccountRef=clearing)
        created(api, "Purchase", {
            "PaymentType": "Check", "AccountRef": clearing, "TxnDate": "2026-12-01",
            "Line": [{"Amount": 3.2, "DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": fees}}],
        })  # fmt: skip
        card = created(api, "Purchase", {
            "PaymentType": "CreditCard", "AccountRef": _account(api, "Company Card"),
            "Line": [{"Amount": 7, "DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": fees}}],
        })  # fmt: skip
        cust = customer(api)["Id"]
        created(api, "RefundReceipt", _sales(api, cust, 25, DepositToAccountRef=clearing))
        assert _deposit(api, "Stripe Clearing", _direct(api, "Merchant Fees", 1.1)).is_success
        moved = created(api, "Transfer", _transfer(api, "Stripe Clearing", "Checking", 50))
        after = {name: _balance(api, name) for name in names}
        change = {name: round(after[name] - before[name], 2) for name in names}
        assert change == {
            "Stripe Clearing": round(100 - 3.2 - 25 + 1.1 - 50, 2),
            "Checking": 50,
            "Company Card": 7,
            "Merchant Fees": 0,
        }
        for entity, obj in (("Transfer", moved), ("Purchase", card)):
            gone = post(api, entity, {"Id": obj["Id"], "SyncToken": obj["SyncToken"]},
                        operation="delete")  # fmt: skip
            assert gone.status_code == 200, gone.text
        assert _balance(api, "Checking") == before["Checking"]
        assert _balance(api, "Company Card") == before["Company Card"]
