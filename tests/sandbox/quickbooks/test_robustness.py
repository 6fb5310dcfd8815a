"""Bad input through real HTTP: wrong JSON types, absurd amounts, broken queries and
non-UTF-8 bodies get Intuit's fault (or an OAuth error), never a 500; failed updates and
requestid replays leave no trace; secrets stay out of the control API and the state file."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from intuitlib.client import AuthClient

from sandbox.quickbooks.conftest import QboSandbox
from sandbox.quickbooks.helpers import created, customer, fault, find, invoice, post


def _invoice(api: httpx.Client) -> dict[str, Any]:
    item = find(api, "Item", "Services")["Id"]
    return {
        "CustomerRef": {"value": customer(api)["Id"]},
        "Line": [
            {
                "Amount": 10,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item}},
            }
        ],
    }


def _payment(api: httpx.Client) -> dict[str, Any]:
    cust = customer(api)["Id"]
    inv = invoice(api, cust, 10)
    return {
        "CustomerRef": {"value": cust},
        "TotalAmt": 10,
        "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
    }


def _purchase(api: httpx.Client) -> dict[str, Any]:
    return {
        "PaymentType": "Cash",
        "AccountRef": {"value": find(api, "Account", "Checking")["Id"]},
        "EntityRef": {
            "value": find(api, "Vendor", "Stripe", "DisplayName")["Id"],
            "type": "Vendor",
        },
        "Line": [
            {
                "Amount": 2,
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {
                    "AccountRef": {"value": find(api, "Account", "Merchant Fees")["Id"]}
                },
            }
        ],
    }


def _deposit(api: httpx.Client) -> dict[str, Any]:
    return {
        "DepositToAccountRef": {"value": find(api, "Account", "Checking")["Id"]},
        "Line": [
            {
                "Amount": 5,
                "DetailType": "DepositLineDetail",
                "DepositLineDetail": {
                    "AccountRef": {"value": find(api, "Account", "Services")["Id"]}
                },
            }
        ],
    }


BUILD = {"Invoice": _invoice, "Payment": _payment, "Purchase": _purchase, "Deposit": _deposit}


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    *head, last = path.split(".")
    target: Any = body
    for part in head:
        target = target[int(part)] if part.isdigit() else target[part]
    target[last] = value


BAD = [
    ("Invoice", "Line", {"Amount": 1}, "2010"),
    ("Invoice", "Line", [1], "2010"),
    ("Invoice", "Line.0.SalesItemLineDetail", [1], "2010"),
    ("Invoice", "CustomerRef", "1", "2010"),
    ("Invoice", "CustomerRef", {"value": {"x": 1}}, "2010"),
    ("Invoice", "Line.0.Amount", 1e30, "6000"),
    ("Invoice", "Line.0.Amount", "1e30", "6000"),
    ("Invoice", "Line.0.Amount", 2e11, "6000"),
    ("Invoice", "Line.0.Amount", "NaN", "2010"),
    ("Invoice", "Line.0.Amount", "sNaN", "2010"),
    ("Invoice", "Line.0.Amount", "ten", "2010"),
    ("Invoice", "Line.0.Amount", True, "2010"),
    ("Invoice", "Line.0.Amount", [10], "2010"),
    ("Invoice", "ExchangeRate", "NaN", "2010"),
    ("Invoice", "ExchangeRate", "sNaN", "2010"),
    ("Invoice", "ExchangeRate", [1], "2010"),
    ("Payment", "Line", "x", "2010"),
    ("Payment", "Line.0.LinkedTxn", {"TxnId": "1", "TxnType": "Invoice"}, "2010"),
    ("Payment", "Line.0.LinkedTxn", ["x"], "2010"),
    ("Payment", "TotalAmt", 1e30, "6000"),
    ("Payment", "TotalAmt", "Infinity", "2010"),
    ("Purchase", "PaymentType", ["Cash"], "2010"),
    ("Purchase", "EntityRef.type", 5, "2010"),
    ("Purchase", "Line.0.AccountBasedExpenseLineDetail", "x", "2010"),
    ("Purchase", "AccountRef", ["1"], "2010"),
    ("Deposit", "Line.0.DepositLineDetail", [], "2010"),
    ("Deposit", "Line.0.LinkedTxn", [1], "2010"),
]


@pytest.mark.parametrize(("entity", "path", "value", "code"), BAD)
def test_bad_shapes_are_faults_not_500(
    qbo: QboSandbox, us: AuthClient, entity: str, path: str, value: Any, code: str
) -> None:
    with qbo.http(us) as api:
        body = BUILD[entity](api)
        _set(body, path, value)
        assert fault(post(api, entity, body))["code"] == code


def test_account_type_must_be_a_string(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        answer = post(api, "Account", {"Name": "Odd", "AccountType": ["Bank"]})
        assert fault(answer)["code"] in ("2010", "2020")


@pytest.mark.parametrize(
    "text",
    [
        "select * from Customer where Id in",
        "select * from Customer where Id in ('1'",
        "select count ( * )",
        "select * from Customer orderby",
        "select * from Customer startposition ²",
        "select * from Customer maxresults ٣",
        "select * from Customer startposition 99999999999999999999",
    ],
)
def test_broken_queries_are_parse_faults(qbo: QboSandbox, us: AuthClient, text: str) -> None:
    with qbo.http(us) as api:
        assert fault(api.get("/query", params={"query": text}))["code"] == "4000"


def test_non_utf8_bodies(qbo: QboSandbox, us: AuthClient) -> None:
    bad = b"\xff\xfe select"
    with qbo.http(us) as api:
        answer = api.post("/query", content=bad, headers={"Content-Type": "application/text"})
        assert fault(answer)["code"] == "4000"
        assert fault(api.post("/customer", content=bad))["code"] == "2010"
    client_id, secret = qbo.new_app()
    with qbo.control() as c:
        page = c.post("/connect/oauth2", content=b"client_id=\xff")
        assert page.status_code == 400 and "invalid_request" in page.text
        token = c.post(
            "/oauth2/v1/tokens/bearer", content=b"grant_type=\xff", auth=(client_id, secret)
        )
        assert token.status_code == 400 and token.json()["error"] == "invalid_request"


def test_failed_payment_update_leaves_invoices_untouched(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        pay = created(api, "Payment", _payment(api))
        invoice_id = pay["Line"][0]["LinkedTxn"][0]["TxnId"]
        before = api.get(f"/invoice/{invoice_id}").json()["Invoice"]
        update = {"Id": pay["Id"], "SyncToken": pay["SyncToken"], "sparse": True, "TotalAmt": 1}
        assert fault(post(api, "Payment", update))["element"] == "TotalAmt"
        after = api.get(f"/invoice/{invoice_id}").json()["Invoice"]
        assert after == before


def test_requestid_replays_the_original_response(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        body = {"DisplayName": "Replay " + customer(api)["DisplayName"][-8:]}
        first = post(api, "Customer", body, requestid="replay-1").json()
        made = first["Customer"]
        change = {
            "Id": made["Id"],
            "SyncToken": made["SyncToken"],
            "sparse": True,
            "CompanyName": "Changed",
        }
        assert post(api, "Customer", change).status_code == 200
        again = post(api, "Customer", body, requestid="replay-1").json()
        assert again == first
        assert again["Customer"]["SyncToken"] == made["SyncToken"]


def test_secrets_are_kept(make_qbo: Callable[..., QboSandbox], tmp_path: Path) -> None:
    state = tmp_path / "qbo.json"
    sandbox = make_qbo("--rate-limit", "0", state=state)
    client_id, _ = sandbox.new_app()
    with sandbox.control() as c:
        apps = c.get("/_sandbox/apps").json()["data"]
    mine = next(a for a in apps if a["client_id"] == client_id)
    assert "client_secret" not in mine and mine["redirect_uris"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
