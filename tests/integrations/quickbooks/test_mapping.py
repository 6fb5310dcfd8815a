"""Mapping setup against a live sandbox company: the choices and suggestions read from it,
saving (audited, `quickbooks.resume` enqueued), every wrong type refused in words, missing and
inactive ids refused, the fee vendor created once, and the 409s without a connection."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, update

from integrations.conftest import assert_no_secret
from integrations.quickbooks.mapping_helpers import (
    RESUME,
    company_ids,
    connection,
    declare_quickbooks_tasks,
    queued,
    valid_body,
)
from regentra import queue
from regentra.integrations.quickbooks import tokens
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.kit.time import utcnow
from regentra.models import AuditEvent, QuickBooksConnection, QuickBooksItemMapping

MAPPING = "/integrations/quickbooks/mapping"


@pytest.fixture(autouse=True)
def _tasks() -> None:
    declare_quickbooks_tasks()
    queue.get_huey().flush()


def _inactive(kit: Any, entity: str, body: dict[str, Any]) -> str:
    """A new object of `entity` in the org's company, then made inactive; its id."""
    with QuickBooks(kit.org.id) as qbo:
        made = qbo.create(entity, body, request_id=uuid.uuid4().hex)
        qbo.update(
            entity,
            {"Id": made["Id"], "SyncToken": made["SyncToken"], "sparse": True, "Active": False},
        )
    return str(made["Id"])


def test_choices_are_read_live_with_suggestions(make_org, connect_quickbooks, db):
    kit = make_org()
    q = connect_quickbooks(kit)
    ids = company_ids(kit)
    # A new expense account appears at once (nothing cached), an inactive one never.
    with QuickBooks(kit.org.id) as qbo:
        qbo.create(
            "Account",
            {"Name": "Bank Fees", "AccountType": "Expense"},
            request_id=uuid.uuid4().hex,
        )
        qbo.create(
            "Item",
            {
                "Name": "Hardware",
                "Type": "NonInventory",
                "IncomeAccountRef": {"value": ids["Services"]},
            },
            request_id=uuid.uuid4().hex,
        )
    gone = _inactive(kit, "Account", {"Name": "Old Fees", "AccountType": "Expense"})

    answer = kit.api().get(MAPPING)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["saved"] is None and body["notes"] == []
    fields = body["choices"]["fields"]
    expected = {
        "deposit_account": ids["Stripe Clearing"],
        "other_deposit_account": ids["Undeposited Funds"],
        "fee_account": ids["Merchant Fees"],
        "fee_paid_from_account": ids["Stripe Clearing"],
        "fee_vendor": ids["Stripe"],
        "income_item": ids["item:Services"],
        "payout_account": ids["Checking"],
        "dispute_account": None,  # nothing named Chargebacks or Disputes yet
    }
    assert {name: f["suggested_id"] for name, f in fields.items()} == expected
    assert fields["fee_vendor"]["create_suggested"] is None
    assert {name for name, f in fields.items() if f["optional"]} == {
        "payout_account",
        "dispute_account",
    }

    def names(field: str) -> set[str]:
        return {o["name"] for o in fields[field]["options"]}

    assert names("deposit_account") == {"Checking", "Stripe Clearing", "Undeposited Funds"}
    assert names("fee_account") == {"Merchant Fees", "Bank Fees"}
    assert gone not in {o["id"] for o in fields["fee_account"]["options"]}
    assert names("fee_paid_from_account") == {"Checking", "Stripe Clearing", "Company Card"}
    assert names("income_item") == {"Services", "Hardware"}
    assert names("payout_account") == {"Checking", "Stripe Clearing"}
    assert names("dispute_account") == {"Merchant Fees", "Bank Fees"}
    assert fields["fee_account"]["allowed_types"] == [
        "Expense",
        "Other Expense",
        "Cost of Goods Sold",
    ]
    clearing = next(
        o for o in fields["deposit_account"]["options"] if o["name"] == "Stripe Clearing"
    )
    assert clearing == {
        "id": ids["Stripe Clearing"],
        "name": "Stripe Clearing",
        "type": "Bank",
        "subtype": "CashOnHand",
        "currency": "USD",
        "active": True,
    }
    access, refresh = _tokens(db, kit)
    assert_no_secret(answer.text, access, refresh, q.app.client_secret)


def _tokens(db: Any, kit: Any) -> tuple[str, str]:
    with db.session() as s:
        access, refresh = tokens.saved(s, org_id=kit.org.id)
    assert access and refresh
    return access, refresh


def test_save_keeps_ids_and_names_audits_and_resumes(make_org, connect_quickbooks, db):
    kit = make_org()
    connect_quickbooks(kit)
    ids = company_ids(kit)
    answer = kit.api().put(MAPPING, json=valid_body(ids, post_from="2026-11-01"))
    assert answer.status_code == 200, answer.text
    saved = answer.json()["saved"]
    assert saved["post_from"] == "2026-11-01"
    assert saved["fields"]["fee_account"] == {
        "id": ids["Merchant Fees"],
        "name": "Merchant Fees",
        "type": "Expense",
    }
    assert answer.json()["notes"] == []  # Stripe Clearing: payouts can be matched

    conn = connection(db, kit)
    assert conn.deposit_account_id == ids["Stripe Clearing"]
    assert conn.other_deposit_account_id == ids["Undeposited Funds"]
    assert conn.fee_account_id == ids["Merchant Fees"]
    assert conn.fee_paid_from_account_id == ids["Stripe Clearing"]
    assert conn.fee_vendor_id == ids["Stripe"]
    assert conn.income_item_id == ids["item:Services"]
    assert conn.post_from == date(2026, 11, 1) and conn.mapping_saved_at is not None
    assert conn.mapping_labels["deposit_account"]["name"] == "Stripe Clearing"
    with db.session() as s:
        event = s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "quickbooks.mapping_saved", AuditEvent.org_id == kit.org.id
            )
        )
    assert event is not None and event.actor_user_id == kit.admin.id
    assert event.details["fee_vendor"] == {"id": ids["Stripe"], "name": "Stripe"}
    assert queued() == [(RESUME, (str(kit.org.id),))]

    # GET shows it; Undeposited Funds for Stripe payments is allowed, with the note.
    again = kit.api().put(
        MAPPING, json=valid_body(ids, deposit_account_id=ids["Undeposited Funds"])
    )
    assert again.status_code == 200, again.text
    assert "posted as a Deposit grouping the payments" in again.json()["notes"][0]
    # … but then the fees cannot be paid from the payout bank account: each payout's Deposit
    # into it takes back from that account what Stripe kept.
    same = kit.api().put(
        MAPPING,
        json=valid_body(
            ids,
            deposit_account_id=ids["Undeposited Funds"],
            fee_paid_from_account_id=ids["Checking"],
            payout_account_id=ids["Checking"],
        ),
    )
    assert same.status_code == 422, same.text
    assert [f["field"] for f in same.json()["error"]["fields"]] == ["fee_paid_from_account"]
    assert "cannot be the payout bank account" in same.json()["error"]["message"]
    # post_from defaults to today in the org's time zone.
    assert again.json()["saved"]["post_from"] == again.json()["suggested_post_from"]
    got = kit.api().get(MAPPING).json()
    assert got["saved"]["fields"]["deposit_account"]["name"] == "Undeposited Funds"
    assert got["notes"] == again.json()["notes"]


WRONG = [
    (
        "deposit_account_id",
        "Merchant Fees",
        "'Merchant Fees' is an Expense account; "
        "choose a Bank or Other Current Asset account such as Stripe Clearing",
    ),
    (
        "other_deposit_account_id",
        "Company Card",
        "'Company Card' is a Credit Card account; choose a Bank or Other Current Asset account",
    ),
    (
        "fee_account_id",
        "Checking",
        "fee_account: 'Checking' is a Bank account; "
        "choose an expense account such as Merchant Fees",
    ),
    (
        "fee_paid_from_account_id",
        "Undeposited Funds",
        "'Undeposited Funds' is an Other Current Asset account; "
        "choose a Bank or Credit Card account",
    ),
    (
        "fee_paid_from_account_id",
        "Services",
        "'Services' is an Income account; choose a Bank or Credit Card account",
    ),
    ("deposit_account_id", "Accounts Receivable (A/R)", "is an Accounts Receivable account"),
    (
        "payout_account_id",
        "Undeposited Funds",
        "payout_account: 'Undeposited Funds' is an Other Current Asset account; "
        "choose a Bank account such as Checking",
    ),
    (
        "dispute_account_id",
        "Checking",
        "dispute_account: 'Checking' is a Bank account; choose an Expense or Other Expense account",
    ),
]


def test_payout_and_dispute_accounts_are_optional_and_kept(make_org, connect_quickbooks, db):
    """The two accounts of refunds, disputes and payouts: saved with their names when given
    (a Bank account; an Expense or Other Expense account), left unset by a body without them
    (mappings saved before they existed stay valid); the card offers "Not set"."""
    kit = make_org()
    connect_quickbooks(kit)
    with QuickBooks(kit.org.id) as qbo:
        qbo.create(
            "Account",
            {"Name": "Chargebacks", "AccountType": "Other Expense"},
            request_id=uuid.uuid4().hex,
        )
    ids = company_ids(kit)
    got = kit.api().get(MAPPING).json()["choices"]["fields"]
    assert got["dispute_account"]["suggested_id"] == ids["Chargebacks"]
    body = valid_body(ids, payout_account_id=ids["Checking"], dispute_account_id=ids["Chargebacks"])
    answer = kit.api().put(MAPPING, json=body)
    assert answer.status_code == 200, answer.text
    fields = answer.json()["saved"]["fields"]
    assert fields["payout_account"] == {"id": ids["Checking"], "name": "Checking", "type": "Bank"}
    assert fields["dispute_account"] == {
        "id": ids["Chargebacks"],
        "name": "Chargebacks",
        "type": "Other Expense",
    }
    conn = connection(db, kit)
    assert (conn.payout_account_id, conn.dispute_account_id) == (
        ids["Checking"],
        ids["Chargebacks"],
    )
    again = kit.api().put(MAPPING, json=valid_body(ids))
    assert again.status_code == 200, again.text
    assert again.json()["saved"]["fields"]["payout_account"] == {
        "id": None,
        "name": None,
        "type": None,
    }
    conn = connection(db, kit)
    assert (conn.payout_account_id, conn.dispute_account_id) == (None, None)


def test_wrong_types_missing_and_inactive_ids_are_422_in_words(make_org, connect_quickbooks, db):
    kit = make_org()
    connect_quickbooks(kit)
    ids = company_ids(kit)
    api = kit.api()
    for key, name, words in WRONG:
        answer = api.put(MAPPING, json=valid_body(ids, **{key: ids[name]}))
        assert answer.status_code == 422, (key, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "quickbooks_mapping_invalid"
        assert words in error["message"], error["message"]
        assert [f["field"] for f in error["fields"]] == [key.removesuffix("_id")]

    # An account id as the vendor, or as the item, is no such vendor / item.
    vendor = api.put(MAPPING, json=valid_body(ids, fee_vendor_id="999999"))
    assert vendor.status_code == 422
    assert "fee_vendor: there is no vendor with id '999999'" in vendor.json()["error"]["message"]
    missing = api.put(MAPPING, json=valid_body(ids, fee_account_id="424242"))
    assert "fee_account: there is no account with id '424242'" in missing.json()["error"]["message"]

    old_fees = _inactive(kit, "Account", {"Name": "Old Fees", "AccountType": "Expense"})
    old_item = _inactive(
        kit,
        "Item",
        {"Name": "Old Work", "Type": "Service", "IncomeAccountRef": {"value": ids["Services"]}},
    )
    old_vendor = _inactive(kit, "Vendor", {"DisplayName": "Old Processor"})
    answer = api.put(
        MAPPING,
        json=valid_body(
            ids, fee_account_id=old_fees, income_item_id=old_item, fee_vendor_id=old_vendor
        ),
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert {f["field"] for f in error["fields"]} == {"fee_account", "income_item", "fee_vendor"}
    assert "'Old Fees' is inactive in QuickBooks" in error["message"]
    assert "'Old Processor' is inactive in QuickBooks" in error["message"]

    # Shapes: both vendor choices, neither, an unknown key, a bad date.
    for bad in (
        valid_body(ids, create_vendor="Stripe"),
        valid_body(ids, fee_vendor_id=None),
        {**valid_body(ids), "fee_acount_id": "1"},
        valid_body(ids, post_from="yesterday"),
        valid_body(ids, fee_account_id=""),
    ):
        assert api.put(MAPPING, json=bad).status_code == 422, bad
    # Nothing was saved or audited, nothing resumed.
    assert connection(db, kit).mapping_saved_at is None
    with db.session() as s:
        assert (
            s.scalar(
                select(AuditEvent).where(
                    AuditEvent.action == "quickbooks.mapping_saved", AuditEvent.org_id == kit.org.id
                )
            )
            is None
        )
    assert queued() == []


def test_create_vendor_makes_one_vendor_even_twice(make_org, connect_quickbooks, db):
    kit = make_org()
    q = connect_quickbooks(kit)
    ids = company_ids(kit)
    body = valid_body(ids, fee_vendor_id=None, create_vendor="Stripe Payments Europe")
    first = kit.api().put(MAPPING, json=body)
    second = kit.api().put(MAPPING, json=body)
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    made = [v for v in q.objects("Vendor") if v["DisplayName"] == "Stripe Payments Europe"]
    assert len(made) == 1
    assert first.json()["saved"]["fields"]["fee_vendor"] == {
        "id": made[0]["Id"],
        "name": "Stripe Payments Europe",
        "type": "Vendor",
    }
    assert second.json()["saved"]["fields"]["fee_vendor"]["id"] == made[0]["Id"]
    # "Stripe" exists (seeded): it is used, not made again.
    stripe = kit.api().put(
        MAPPING, json=valid_body(ids, fee_vendor_id=None, create_vendor="stripe")
    )
    assert stripe.json()["saved"]["fields"]["fee_vendor"]["id"] == ids["Stripe"]
    assert len([v for v in q.objects("Vendor") if v["DisplayName"].lower() == "stripe"]) == 1


def test_needs_a_connection(make_org, connect_quickbooks, qbo_app, db):
    kit = make_org()
    api = kit.api()
    body = {
        k: "1"
        for k in (
            "deposit_account_id",
            "other_deposit_account_id",
            "fee_account_id",
            "fee_paid_from_account_id",
            "fee_vendor_id",
            "income_item_id",
        )
    }
    for answer in (api.get(MAPPING), api.put(MAPPING, json=body)):
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "quickbooks_not_connected"
        assert "not connected" in answer.json()["error"]["message"]

    connect_quickbooks(kit)
    with db.session() as s:
        s.execute(
            update(QuickBooksConnection)
            .where(QuickBooksConnection.org_id == kit.org.id)
            .values(reconnect_needed_at=utcnow(), reconnect_reason="the refresh token was revoked")
        )
        s.commit()
    for answer in (api.get(MAPPING), api.put(MAPPING, json=body)):
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "quickbooks_reconnect_needed"
        assert "connected again" in answer.json()["error"]["message"]
    assert queued() == []


def test_quickbooks_down_is_503_in_words(make_org, connect_quickbooks, qbo_app, db, monkeypatch):
    kit = make_org()
    connect_quickbooks(kit)
    from regentra.config import get_settings

    monkeypatch.setenv("REGENTRA_QBO_API_BASE", "http://127.0.0.1:9")
    monkeypatch.setenv("REGENTRA_QBO_RETRIES", "0")
    get_settings.cache_clear()
    answer = kit.api().get(MAPPING)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "quickbooks_unavailable"
    assert "could not be reached" in answer.json()["error"]["message"]


@pytest.mark.e2e
def test_a_real_server_reads_the_company_without_waiting_on_its_own_lock(
    database, app_qbo, monkeypatch
):
    """e2e: a real `regentra serve` answers the mapping (API and card) at once. The request's
    own transaction is ended before QuickBooks is asked: on SQLite it would hold the write
    lock that the client's token read then waits for (30 s, then "database is locked")."""
    import time
    from urllib.parse import parse_qs, urlparse

    from conftest import _org_factory, start_server, stop_server
    from support.qbo_fixtures import QboApp, register_app, use_quickbooks
    from web.pages import PageClient

    import regentra.db
    from regentra.audit.service import Actor
    from regentra.integrations.quickbooks import connection, oauth

    use_quickbooks(monkeypatch, app_qbo, "pending", "pending")
    client_id, secret = register_app(app_qbo, oauth.redirect_uri())
    use_quickbooks(monkeypatch, app_qbo, client_id, secret, database_url=database.url)
    regentra.db.get_engine.cache_clear()
    regentra.db.get_sessionmaker.cache_clear()
    env = {
        "REGENTRA_QBO_CLIENT_ID": client_id,
        "REGENTRA_QBO_CLIENT_SECRET": secret,
        "REGENTRA_QBO_ENVIRONMENT": app_qbo.discovery_url,
        "REGENTRA_QBO_MAX_RPS": "0",
    }
    server = start_server(database.url, extra_env=env)
    try:
        kit = _org_factory(database, server)()
        app = QboApp(app_qbo, client_id, secret)
        realm = app.company()
        url = oauth.auth_client().get_authorization_url(oauth.SCOPES, state_token="e2e")
        query = parse_qs(urlparse(app.authorize_url_answer(url, realm)).query)
        with database.session() as s:
            connection.complete(
                s,
                org_id=kit.org.id,
                actor=Actor.of(kit.admin),
                code=query["code"][0],
                realm_id=query["realmId"][0],
            )
            s.commit()
        with kit.api() as api:
            started = time.monotonic()
            got = api.get(MAPPING)
            assert got.status_code == 200, got.text
            fields = got.json()["choices"]["fields"]
            wrong = api.put(
                MAPPING,
                json={
                    f"{name}_id": fields[name]["suggested_id"]
                    for name in fields
                    if name != "fee_account"
                }
                | {"fee_account_id": fields["deposit_account"]["suggested_id"]},
            )
            assert wrong.status_code == 422, wrong.text
            assert "fee_account: 'Stripe Clearing' is a Bank account" in wrong.text
            assert time.monotonic() - started < 10
        with PageClient(server.url) as page:
            page.login(kit.admin.email)
            card = page.get("/integrations")
            assert card.status_code == 200 and 'id="qbo-mapping-form"' in card.text
        assert "database is locked" not in server.log()
    finally:
        stop_server(server)
        regentra.db.get_engine.cache_clear()
        regentra.db.get_sessionmaker.cache_clear()


def test_income_items_per_catalog_item_are_saved_shown_and_checked(
    make_org, connect_quickbooks, db
):
    """Issue 17: an income item per active catalog item, chosen among the income item's
    choices; shown on GET (null: the default); an unknown or non-income QuickBooks item, or a
    catalog item of another org, is a 422 naming it, and nothing is saved."""
    kit, other = make_org(), make_org()
    connect_quickbooks(kit)
    ids = company_ids(kit)
    with QuickBooks(kit.org.id) as qbo:
        hardware = str(
            qbo.create(
                "Item",
                {
                    "Name": "Hardware",
                    "Type": "NonInventory",
                    "IncomeAccountRef": {"value": ids["Services"]},
                },
                request_id=uuid.uuid4().hex,
            )["Id"]
        )
    api = kit.api()
    firewall = api.post(
        "/catalog", json={"name": "Firewall", "unit_amount": 4000, "currency": "usd"}
    )
    backup = api.post(
        "/catalog", json={"name": "Backup seat", "unit_amount": 500, "currency": "usd"}
    )
    assert firewall.status_code == 201 and backup.status_code == 201, firewall.text
    firewall_id, backup_id = firewall.json()["id"], backup.json()["id"]
    theirs = other.api().post(
        "/catalog", json={"name": "Theirs", "unit_amount": 1, "currency": "usd"}
    )
    assert theirs.status_code == 201, theirs.text

    shown = api.get(MAPPING).json()
    assert [(c["name"], c["quickbooks_item_id"]) for c in shown["catalog_items"]] == [
        ("Backup seat", None),
        ("Firewall", None),
    ]
    options = {o["id"] for o in shown["choices"]["fields"]["income_item"]["options"]}
    assert hardware in options

    choice = [{"catalog_item_id": firewall_id, "quickbooks_item_id": hardware}]
    saved = api.put(MAPPING, json=valid_body(ids, catalog_items=choice))
    assert saved.status_code == 200, saved.text
    by_name = {c["name"]: c for c in saved.json()["catalog_items"]}
    assert by_name["Firewall"]["quickbooks_item_id"] == hardware
    assert by_name["Firewall"]["quickbooks_item_name"] == "Hardware"
    assert by_name["Backup seat"]["quickbooks_item_id"] is None
    with db.session() as s:
        event = s.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "quickbooks.mapping_saved", AuditEvent.org_id == kit.org.id
            )
        ).all()[-1]
    assert event.details["catalog_items"] == [
        {"catalog_item_id": firewall_id, "item": {"id": hardware, "name": "Hardware"}}
    ]
    # A save that does not name catalog items keeps them.
    assert api.put(MAPPING, json=valid_body(ids)).status_code == 200
    kept = {c["name"]: c["quickbooks_item_id"] for c in api.get(MAPPING).json()["catalog_items"]}
    assert kept == {"Firewall": hardware, "Backup seat": None}

    refused = [
        ({"catalog_item_id": backup_id, "quickbooks_item_id": "9999"}, "there is no item"),
        (
            {"catalog_item_id": backup_id, "quickbooks_item_id": ids["Checking"]},
            "there is no item",  # an account's id is not an item's
        ),
        (
            {"catalog_item_id": theirs.json()["id"], "quickbooks_item_id": hardware},
            "no active catalog item",
        ),
        ({"catalog_item_id": str(uuid.uuid4()), "quickbooks_item_id": hardware}, "no active"),
    ]
    for bad, words in refused:
        answer = api.put(MAPPING, json=valid_body(ids, catalog_items=[bad]))
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "quickbooks_mapping_invalid" and words in error["message"], error
        assert error["fields"][0]["field"] == "catalog_items[0]"
    twice = [choice[0], choice[0]]
    assert api.put(MAPPING, json=valid_body(ids, catalog_items=twice)).status_code == 422

    # Null: back to the default.
    back = [{"catalog_item_id": firewall_id, "quickbooks_item_id": None}]
    cleared = api.put(MAPPING, json=valid_body(ids, catalog_items=back))
    assert cleared.status_code == 200, cleared.text
    assert all(c["quickbooks_item_id"] is None for c in cleared.json()["catalog_items"])
    with db.session() as s:
        assert s.scalars(select(QuickBooksItemMapping)).all() == []
