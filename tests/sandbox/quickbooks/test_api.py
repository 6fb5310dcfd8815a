"""The v3 API's contract: envelope, CRUD with SyncToken, query, minorversion, requestid, 401."""

# QuickBooks query strings built in tests, not SQL:
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import httpx
from intuitlib.client import AuthClient
from quickbooks.exceptions import AuthorizationException, ValidationException
from quickbooks.objects.customer import Customer

from sandbox.quickbooks.conftest import QboSandbox, unique
from sandbox.quickbooks.helpers import created, customer, fault, find, invoice, post


def test_seeded_companies_and_chart_of_accounts(
    qbo: QboSandbox, us: AuthClient, uk: AuthClient
) -> None:
    with qbo.http(us) as api:
        info = api.get(f"/companyinfo/{us.realm_id}").json()["CompanyInfo"]
        assert info["Id"] == us.realm_id and info["CompanyName"]
        prefs = api.get("/preferences").json()["Preferences"]["CurrencyPrefs"]
        assert prefs == {"HomeCurrency": {"value": "USD"}, "MultiCurrencyEnabled": False}
        kinds = {
            name: find(api, "Account", name)["AccountType"]
            for name in ("Checking", "Stripe Clearing", "Undeposited Funds", "Merchant Fees",
                         "Services", "Accounts Receivable (A/R)")
        }  # fmt: skip
        assert kinds == {
            "Checking": "Bank", "Stripe Clearing": "Bank",
            "Undeposited Funds": "Other Current Asset", "Merchant Fees": "Expense",
            "Services": "Income", "Accounts Receivable (A/R)": "Accounts Receivable",
        }  # fmt: skip
        assert find(api, "Vendor", "Stripe", "DisplayName")["Active"] is True
        assert find(api, "Item", "Services")["Type"] == "Service"
    with qbo.http(uk) as api:
        prefs = api.get("/preferences").json()["Preferences"]["CurrencyPrefs"]
        assert prefs == {"HomeCurrency": {"value": "GBP"}, "MultiCurrencyEnabled": True}


def test_python_quickbooks_creates_reads_and_updates(qbo: QboSandbox, us: AuthClient) -> None:
    qb = qbo.qb(us)
    made = Customer()
    made.DisplayName = unique("Fabrikam")
    saved = made.save(qb=qb)
    assert saved.Id and saved.SyncToken == "0"
    again = Customer.get(saved.Id, qb=qb)
    again.CompanyName = "Fabrikam Ltd"
    updated = again.save(qb=qb)
    assert updated.SyncToken == "1" and updated.CompanyName == "Fabrikam Ltd"
    found = Customer.filter(DisplayName=made.DisplayName, qb=qb)
    assert [c.Id for c in found] == [saved.Id]


def test_stale_sync_token_is_intuits_stale_object_error(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        made = customer(api)
        body = {"Id": made["Id"], "SyncToken": "0", "sparse": True, "CompanyName": "A"}
        first = post(api, "Customer", body)
        assert first.json()["Customer"]["SyncToken"] == "1"
        error = fault(post(api, "Customer", {**body, "CompanyName": "B"}))
        assert error["code"] == "5010" and error["Message"] == "Stale Object Error"


def test_sparse_update_keeps_other_fields_and_full_update_clears_them(
    qbo: QboSandbox, us: AuthClient
) -> None:
    with qbo.http(us) as api:
        made = customer(api, CompanyName="Keep me", Notes="note")
        sparse = post(api, "Customer", {"Id": made["Id"], "SyncToken": "0", "sparse": True,
                                        "Notes": "changed"}).json()["Customer"]  # fmt: skip
        assert sparse["CompanyName"] == "Keep me" and sparse["Notes"] == "changed"
        body = {"Id": made["Id"], "SyncToken": "1", "DisplayName": made["DisplayName"]}
        full = post(api, "Customer", body).json()["Customer"]
        assert "CompanyName" not in full and full["SyncToken"] == "2"


def test_name_lists_cannot_be_deleted_transactions_can(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        made = customer(api)
        refused = fault(post(api, "Customer", {"Id": made["Id"], "SyncToken": "0"},
                             operation="delete"))  # fmt: skip
        assert refused["code"] == "500"
        inv = invoice(api, made["Id"], 10)
        gone = post(api, "Invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]},
                    operation="delete")  # fmt: skip
        assert gone.json()["Invoice"]["status"] == "Deleted"
        assert fault(api.get(f"/invoice/{inv['Id']}"))["code"] == "610"


def test_query_paging_in_like_and_last_updated(qbo: QboSandbox, us: AuthClient) -> None:
    tag = unique("Paged").replace(" ", "")
    with qbo.http(us) as api:
        made = [created(api, "Customer", {"DisplayName": f"{tag}-{i}"}) for i in range(5)]

        def q(text: str) -> dict:
            answer = api.get("/query", params={"query": text})
            assert answer.status_code == 200, answer.text
            return dict(answer.json()["QueryResponse"])

        page = q(
            f"select * from Customer where DisplayName like '{tag}%' startposition 2 maxresults 2"
        )
        assert [c["Id"] for c in page["Customer"]] == [made[1]["Id"], made[2]["Id"]]
        assert page["startPosition"] == 2 and page["maxResults"] == 2
        assert q(f"select * from Customer where DisplayName like '{tag}%' startposition 6") == {}
        ids = ", ".join(f"'{c['Id']}'" for c in made[:2])
        assert len(q(f"select * from Customer where Id in ({ids})")["Customer"]) == 2
        count = q(f"select count(*) from Customer where DisplayName like '{tag}%'")
        assert count == {"totalCount": 5}
        stamp = made[0]["MetaData"]["LastUpdatedTime"]
        later = q(f"select * from Customer where MetaData.LastUpdatedTime >= '{stamp}' "
                  f"and DisplayName like '{tag}%'")  # fmt: skip
        assert len(later["Customer"]) == 5
        # The same instant written in another offset selects the same rows (times compare as
        # instants, not as text); an hour later selects none.
        instant = datetime.fromisoformat(stamp)
        pacific = instant.astimezone(timezone(timedelta(hours=-8))).isoformat()
        same = q(f"select * from Customer where MetaData.LastUpdatedTime >= '{pacific}' "
                 f"and DisplayName like '{tag}%'")  # fmt: skip
        assert len(same["Customer"]) == 5
        hour = (instant + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-8)))
        assert q(f"select * from Customer where MetaData.LastUpdatedTime > '{hour.isoformat()}' "
                 f"and DisplayName like '{tag}%'") == {}  # fmt: skip
        bad = fault(api.get("/query", params={"query": "select * from Nothing"}))
        assert bad["code"] == "4000"
        # python-quickbooks POSTs the query as application/text.
        assert len(qbo.qb(us).query(f"select * from Customer where DisplayName like '{tag}%'")
                   ["QueryResponse"]["Customer"]) == 5  # fmt: skip


def test_minorversion_below_75_is_served_as_75_and_logged(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        api.get(f"/companyinfo/{us.realm_id}", params={"minorversion": "65"}).raise_for_status()
        bare = f"{api.base_url}/companyinfo/{us.realm_id}"  # no minorversion at all
        httpx.get(bare, headers={"Authorization": api.headers["Authorization"]}).raise_for_status()
    with qbo.control() as c:
        log = c.get(f"/_sandbox/companies/{us.realm_id}/requests").json()["data"]
    asked = [(e["minorversion_requested"], e["minorversion"]) for e in log[-2:]]
    assert asked == [("65", 75), (None, 75)]


def test_requestid_replays_and_creates_once(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        name = unique("Replay")
        first = post(api, "Customer", {"DisplayName": name}, requestid="rq-" + name[-8:])
        second = post(api, "Customer", {"DisplayName": name}, requestid="rq-" + name[-8:])
        assert first.json() == second.json()
        count = api.get(
            "/query",
            params={"query": f"select count(*) from Customer where DisplayName = '{name}'"},
        )
        assert count.json()["QueryResponse"]["totalCount"] == 1
        too_long = post(api, "Customer", {"DisplayName": unique("X")}, requestid="r" * 51)
        assert fault(too_long)["element"] == "requestid"


def test_401_shape_without_a_valid_token(qbo: QboSandbox, us: AuthClient) -> None:
    with qbo.http(us) as api:
        api.headers["Authorization"] = "Bearer nope"
        answer = api.get(f"/companyinfo/{us.realm_id}")
    error = fault(answer, 401)
    assert error["type"] == "AuthenticationFault" and error["code"] == "3200"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    qb = qbo.qb(us)
    qb.session.access_token = "nope"
    try:
        Customer.all(qb=qb)
    except AuthorizationException as exc:
        assert exc.error_code == 401
    else:
        raise AssertionError("python-quickbooks did not raise")


def test_expired_access_token_is_401_then_refresh_works(
    make_qbo: Callable[..., QboSandbox],
) -> None:
    box = make_qbo("--rate-limit", "0")
    auth = box.connect(box.realm("USD"))
    with box.control() as c:
        c.post("/_sandbox/clock/advance", json={"seconds": 3601}).raise_for_status()
    with box.http(auth) as api:
        assert fault(api.get(f"/companyinfo/{auth.realm_id}"), 401)["code"] == "3200"
    auth.refresh()
    with box.http(auth) as api:
        assert api.get(f"/companyinfo/{auth.realm_id}").status_code == 200


def test_a_token_only_opens_its_own_company(
    qbo: QboSandbox, us: AuthClient, uk: AuthClient
) -> None:
    with qbo.http(us) as api:
        api.base_url = f"{qbo.url}/v3/company/{uk.realm_id}"  # type: ignore[assignment]
        answer = api.get(f"/companyinfo/{uk.realm_id}")
    assert fault(answer, 403)["type"] == "AuthorizationFault"


def test_validation_errors_reach_python_quickbooks_as_validation(
    qbo: QboSandbox, us: AuthClient
) -> None:
    qb = qbo.qb(us)
    try:
        qb.create_object("Invoice", json.dumps({"Line": []}))
    except ValidationException as exc:
        assert exc.error_code == 2020
    else:
        raise AssertionError("no error")
