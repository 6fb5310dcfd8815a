"""Settings → Integrations → QuickBooks, in-process against the QuickBooks sandbox (`qbo_app`):
Connect through the API and the callback page, the callback's refusals (state missing,
unknown, of another user or org, expired, used; cancelled), Disconnect, the card when the
server lacks QBO settings, who may use it, and no token in clear anywhere we can read.

The "person on Intuit's authorize page" is `qbo_app.authorize_url_answer`; the callback URL
it returns is opened in-process by the same admin, signed in with a page session.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from factories import OrgKit
from sqlalchemy import JSON, String, Text, func, select, update
from support.qbo_fixtures import QboApp, QboOrg
from web.pages import PageClient, flash

from regentra.integrations.quickbooks import connection, oauth, tokens
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.kit.time import utcnow
from regentra.models import (
    AuditEvent,
    Base,
    Org,
    OrgSecret,
    QuickBooksConnection,
    QuickBooksOAuthState,
    QuickBooksPosting,
    User,
)

_CARD_ERROR = re.compile(r'id="quickbooks-error" role="alert">([^<]*)<')


# ---- helpers --------------------------------------------------------------------------------


def start(kit: OrgKit, user: User | None = None) -> str:
    """POST connect as `user` (default: the admin); Intuit's authorize URL."""
    with kit.api(user) as api:
        r = api.post("/integrations/quickbooks/connect")
    assert r.status_code == 200, r.text
    url = str(r.json()["authorize_url"])
    assert set(r.json()) == {"authorize_url"}
    return url


def local(location: str) -> str:
    """The callback URL Intuit sent the browser to, as a path for the in-process app."""
    parts = urlsplit(location)
    assert parts.path == oauth.CALLBACK_PATH, location
    return f"{parts.path}?{parts.query}"


def with_query(location: str, **changes: str | None) -> str:
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return f"{parts.path}?{urlencode(query)}"


def callback(site: Any, user: User, path: str) -> httpx.Response:
    with PageClient(site) as page:
        page.login(user.email)
        return page.get(path)


def card_error(response: httpx.Response) -> str:
    found = _CARD_ERROR.search(response.text)
    assert found, response.text[-3000:]
    return html.unescape(found.group(1))


def audits(kit: OrgKit, action: str) -> list[AuditEvent]:
    with kit.db.session() as s:
        stmt = select(AuditEvent).where(
            AuditEvent.org_id == kit.org.id, AuditEvent.action == action
        )
        return list(s.scalars(stmt.order_by(AuditEvent.created_at)).all())


def connect_via_api(site: Any, kit: OrgKit, app: QboApp, realm: str) -> httpx.Response:
    """The whole Connect as the admin: API, authorize page, callback page."""
    location = app.authorize_url_answer(start(kit), realm)
    return callback(site, kit.admin, local(location))


def assert_not_connected(kit: OrgKit) -> None:
    with kit.db.session() as s:
        assert not connection.is_connected(connection.find(s, org_id=kit.org.id))
        assert tokens.saved(s, org_id=kit.org.id) == (None, None)
    assert audits(kit, "quickbooks.connected") == []


def text_columns(kit: OrgKit) -> str:
    """Every text and JSON value in every table, as one string (the in-process scan: the
    rows of this test's transaction)."""
    out: list[str] = []
    with kit.db.session() as s:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if cols:
                out.extend(repr(tuple(row)) for row in s.execute(select(*cols)).all())
    return "\n".join(out)


# ---- Connect ----------------------------------------------------------------------------------


def test_connect_through_the_api_and_the_callback(
    site: Any, make_org: Any, qbo_app: QboApp
) -> None:
    kit = make_org()
    realm = qbo_app.company(currency="GBP", multicurrency=True)
    with kit.api() as api:
        before = api.get("/integrations/quickbooks").json()
    assert before["configured"] is True and before["missing_settings"] == []
    assert before["connected"] is False and before["realm_id"] is None and before["link"] is None
    assert before["redirect_uri"] == site.url + oauth.CALLBACK_PATH

    url = start(kit)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(qbo_app.sandbox.url + "/connect/oauth2?")
    assert query["client_id"] == [qbo_app.client_id]
    assert query["redirect_uri"] == [site.url + oauth.CALLBACK_PATH]
    assert query["scope"] == ["com.intuit.quickbooks.accounting"]
    state = query["state"][0]
    assert len(state) >= 40
    with kit.db.session() as s:
        row = s.scalar(
            select(QuickBooksOAuthState).where(QuickBooksOAuthState.org_id == kit.org.id)
        )
        assert row is not None and row.user_id == kit.admin.id and row.used_at is None
        assert state not in row.state_hash  # only its SHA-256 is kept
        assert timedelta(minutes=9) < row.expires_at - utcnow() <= timedelta(minutes=10)

    location = qbo_app.authorize_url_answer(url, realm)
    with PageClient(site) as page:
        page.login(kit.admin.email)
        r = page.get(local(location))
        assert r.status_code == 303 and r.headers["location"] == "/integrations", r.text
        shown = page.follow(r)
    kind, message = flash(shown.text) or ("", "")
    assert kind == "success" and message.startswith("QuickBooks connected: MSP ")
    assert 'id="quickbooks-state" data-state="connected"' in shown.text
    assert f'data-realm-id="{realm}"' in shown.text
    assert f'href="{qbo_app.sandbox.url}/company/{realm}"' in shown.text
    assert 'id="quickbooks-connect"' not in shown.text  # connected: Disconnect instead
    assert 'id="quickbooks-disconnect"' in shown.text
    assert 'id="quickbooks-authorization"' in shown.text
    # The Connect form's redirect to the authorize page is allowed by the page's policy.
    policy = shown.headers["content-security-policy"]
    assert f"form-action 'self' {qbo_app.sandbox.url};" in policy

    with kit.api() as api:
        r = api.get("/integrations/quickbooks")
    got = r.json()
    assert got["connected"] is True and got["realm_id"] == realm
    assert got["company_name"] == message.removeprefix("QuickBooks connected: ").rstrip(".")
    assert got["home_currency"] == "GBP" and got["multicurrency"] is True
    assert got["reconnect_needed"] is False and got["reconnect_reason"] is None
    assert got["link"] == f"{qbo_app.sandbox.url}/company/{realm}"
    assert got["connected_at"] and got["access_expires_at"] and got["refresh_expires_at"]

    with kit.db.session() as s:
        access, refresh = tokens.saved(s, org_id=kit.org.id)
        used = s.scalar(select(QuickBooksOAuthState.used_at))
    assert access and refresh and used is not None
    for text in (r.text, shown.text, text_columns(kit)):
        for secret in (access, refresh, qbo_app.client_secret, state):
            assert secret not in text
    (entry,) = audits(kit, "quickbooks.connected")
    assert entry.actor_user_id == kit.admin.id and entry.details == {"realm_id": realm}

    # The company really is reachable with what was stored.
    with QuickBooks(kit.org.id) as qbo:
        assert qbo.company_info()["CompanyName"] == got["company_name"]

    # The same callback again (a reload, a replay): refused, nothing changes.
    again = callback(site, kit.admin, local(location))
    assert again.status_code == 409
    assert "already used" in card_error(again)
    assert len(audits(kit, "quickbooks.connected")) == 1
    # A fresh state with that spent code: Intuit refuses the code, said in words (400).
    fresh = parse_qs(urlsplit(start(kit)).query)["state"][0]
    r = callback(site, kit.admin, with_query(location, state=fresh))
    assert r.status_code == 400
    assert card_error(r).startswith("Intuit refused the sign-in's authorization code")
    assert len(audits(kit, "quickbooks.connected")) == 1


# ---- the callback's refusals -----------------------------------------------------------------


def test_callback_refuses_bad_states_and_stores_nothing(
    site: Any, make_org: Any, qbo_app: QboApp, db: Any
) -> None:
    kit = make_org()
    realm = qbo_app.company()
    location = qbo_app.authorize_url_answer(start(kit), realm)

    # A state we never made (its code is real): refused, and the code stays unused.
    r = callback(site, kit.admin, with_query(location, state=uuid.uuid4().hex))
    assert r.status_code == 400
    assert card_error(r).startswith("This QuickBooks sign-in was not started from this org")
    # No state at all.
    r = callback(site, kit.admin, with_query(location, state=None))
    assert r.status_code == 400 and "without the sign-in's state" in card_error(r)
    assert_not_connected(kit)

    # Another admin of the same org started it: only they may finish it.
    other_admin = kit.add_user("admin")
    theirs = qbo_app.authorize_url_answer(start(kit, other_admin), realm)
    r = callback(site, kit.admin, local(theirs))
    assert r.status_code == 403 and "started by another user" in card_error(r)
    assert_not_connected(kit)

    # Another org's state, finished by this org's admin.
    intruder = make_org("Intruder MSP")
    foreign = qbo_app.authorize_url_answer(start(intruder), realm)
    r = callback(site, kit.admin, local(foreign))
    assert r.status_code == 400 and "not started from this organization" in card_error(r)
    assert_not_connected(kit)
    assert_not_connected(intruder)

    # Expired: older than ten minutes.
    late = qbo_app.authorize_url_answer(start(kit), realm)
    late_state = parse_qs(urlsplit(late).query)["state"][0]
    with db.session() as s:
        import hashlib

        s.execute(
            update(QuickBooksOAuthState)
            .where(
                QuickBooksOAuthState.state_hash == hashlib.sha256(late_state.encode()).hexdigest()
            )
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        s.commit()
    r = callback(site, kit.admin, local(late))
    assert r.status_code == 400 and "expired" in card_error(r)
    assert_not_connected(kit)

    # Cancel on Intuit's page: "you cancelled", and that state is used up.
    cancelled = qbo_app.authorize_url_answer(start(kit), realm, decision="cancel")
    assert parse_qs(urlsplit(cancelled).query)["error"] == ["access_denied"]
    r = callback(site, kit.admin, local(cancelled))
    assert r.status_code == 400 and card_error(r).startswith("You cancelled connecting QuickBooks")
    r = callback(site, kit.admin, local(cancelled))
    assert r.status_code == 409 and "already used" in card_error(r)
    assert_not_connected(kit)

    # None of this wrote anything secret, and the first (real) code still works with its
    # own state: the refusals did not spend it.
    r = callback(site, kit.admin, local(location))
    assert r.status_code == 303, r.text
    with kit.db.session() as s:
        assert connection.is_connected(connection.find(s, org_id=kit.org.id))
    assert_not_connected(intruder)


def test_technicians_and_approvers_are_refused_everywhere(
    site: Any, make_org: Any, qbo_app: QboApp
) -> None:
    kit = make_org()
    url = start(kit)
    location = qbo_app.authorize_url_answer(url, qbo_app.company())
    for role in ("technician", "approver"):
        user = kit.add_user(role)
        with kit.api(user) as api:
            assert api.get("/integrations/quickbooks").status_code == 403
            assert api.post("/integrations/quickbooks/connect").status_code == 403
            assert api.delete("/integrations/quickbooks").status_code == 403
        with PageClient(site) as page:
            page.login(user.email)
            assert page.get(local(location)).status_code == 403
            assert page.post("/integrations/quickbooks/connect").status_code == 403
            r = page.post("/integrations/quickbooks/disconnect", {"confirm": "yes"})
            assert r.status_code == 403
    with kit.db.session() as s:
        assert s.scalar(select(QuickBooksOAuthState.used_at)) is None
    assert_not_connected(kit)


def test_one_org_never_sees_or_disconnects_another(make_org: Any, connect_quickbooks: Any) -> None:
    q: QboOrg = connect_quickbooks(make_org())
    intruder = make_org("Intruder MSP")
    with intruder.api() as api:
        seen = api.get("/integrations/quickbooks")
        gone = api.delete("/integrations/quickbooks")
    for r in (seen, gone):
        assert r.status_code == 200, r.text
        assert r.json()["connected"] is False and r.json()["realm_id"] is None
        assert q.realm not in r.text and str(q.kit.org.id) not in r.text
    assert audits(intruder, "quickbooks.disconnected") == []
    with QuickBooks(q.kit.org.id) as qbo:  # A's connection still works
        assert qbo.company_info()["Id"]
    with q.kit.api() as api:
        assert api.get("/integrations/quickbooks").json()["realm_id"] == q.realm


# ---- Disconnect -------------------------------------------------------------------------------


def _posting(kit: OrgKit) -> uuid.UUID:
    """A posted row of one invoice of the org (what Disconnect must keep)."""
    from regentra.invoices import service as invoicing
    from regentra.invoices.schemas import InvoiceCreate

    tech = kit.add_user("technician")
    client = kit.client()
    entry = kit.entry(tech, ticket=kit.ticket(client), status="approved")

    def make(s: Any) -> uuid.UUID:
        org = s.get(Org, kit.org.id)
        admin = s.get(User, kit.admin.id)
        invoice = invoicing.generate(
            s, org=org, user=admin, data=InvoiceCreate(client_id=client.id, entry_ids=[entry.id])
        )
        row = QuickBooksPosting(
            org_id=kit.org.id, invoice_id=invoice.id, kind="invoice", state="posted", qbo_id="9"
        )
        s.add(row)
        s.flush()
        return row.id

    return kit._commit(make)  # type: ignore[no-any-return]


def _refresh_at_sandbox(app: QboApp, refresh_token: str) -> httpx.Response:
    """Spend `refresh_token` at the sandbox's token endpoint as the app would."""
    with httpx.Client(timeout=30) as http:
        return http.post(
            app.sandbox.url + "/oauth2/v1/tokens/bearer",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(app.client_id, app.client_secret),
        )


def test_disconnect_revokes_wipes_and_keeps_postings(
    site: Any, make_org: Any, connect_quickbooks: Any, qbo_app: QboApp
) -> None:
    q: QboOrg = connect_quickbooks(make_org())
    kit = q.kit
    posting_id = _posting(kit)
    with kit.db.session() as s:
        access, refresh = tokens.saved(s, org_id=kit.org.id)
    assert access and refresh

    with PageClient(site) as page:
        page.login(kit.admin.email)
        # Without the confirmation box: refused in words, still connected.
        r = page.post("/integrations/quickbooks/disconnect")
        assert r.status_code == 422 and "confirm" in card_error(r)
        with kit.db.session() as s:
            assert connection.is_connected(connection.find(s, org_id=kit.org.id))
        r = page.post("/integrations/quickbooks/disconnect", {"confirm": "yes"})
        assert r.status_code == 303
        shown = page.follow(r)
    assert flash(shown.text) == (
        "success",
        "QuickBooks disconnected: access revoked and its tokens deleted. Postings already made "
        "stay recorded.",
    )
    assert 'data-state="none"' in shown.text and 'id="quickbooks-connect"' in shown.text

    with kit.db.session() as s:
        conn = connection.find(s, org_id=kit.org.id)
        assert conn is not None and conn.realm_id is None and conn.connected_at is None
        assert conn.company_name is None and conn.mapping_saved_at is None
        assert tokens.saved(s, org_id=kit.org.id) == (None, None)
        purposes = s.scalars(select(OrgSecret.purpose).where(OrgSecret.org_id == kit.org.id))
        assert not [p for p in purposes if p.startswith("quickbooks")]
        kept = s.get(QuickBooksPosting, posting_id)
        assert kept is not None and kept.state == "posted" and kept.qbo_id == "9"
    (entry,) = audits(kit, "quickbooks.disconnected")
    assert entry.details == {
        "realm_id": q.realm,
        "revocation": "revoked at Intuit",
        "authorization_deleted": True,
    }
    # Revoked at Intuit: the old refresh token is refused for good.
    spent = _refresh_at_sandbox(qbo_app, refresh)
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
    with kit.api() as api:
        assert api.get("/integrations/quickbooks").json()["connected"] is False
        # Nothing left to disconnect: 200, no second audit entry.
        assert api.delete("/integrations/quickbooks").status_code == 200
    assert len(audits(kit, "quickbooks.disconnected")) == 1


def test_disconnect_while_intuit_is_down_still_wipes_the_tokens(
    make_org: Any, connect_quickbooks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from regentra.config import get_settings

    q: QboOrg = connect_quickbooks(make_org())
    monkeypatch.setenv(
        "REGENTRA_QBO_ENVIRONMENT", "http://127.0.0.1:9/.well-known/openid_configuration"
    )
    get_settings.cache_clear()
    with q.kit.api() as api:
        r = api.delete("/integrations/quickbooks")
    assert r.status_code == 200 and r.json()["connected"] is False, r.text
    with q.kit.db.session() as s:
        assert tokens.saved(s, org_id=q.kit.org.id) == (None, None)
    (entry,) = audits(q.kit, "quickbooks.disconnected")
    assert entry.details["revocation"] == (
        "not revoked at Intuit: its sign-in service could not be reached"
    )


# ---- the server without QuickBooks settings ---------------------------------------------------


def test_missing_settings_are_named_instead_of_a_connect_button(
    site: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from regentra.config import get_settings

    for name in ("CLIENT_ID", "CLIENT_SECRET", "ENVIRONMENT"):
        monkeypatch.setenv(f"REGENTRA_QBO_{name}", "")
    get_settings.cache_clear()
    names = ["REGENTRA_QBO_CLIENT_ID", "REGENTRA_QBO_CLIENT_SECRET", "REGENTRA_QBO_ENVIRONMENT"]
    kit = make_org()
    with kit.api() as api:
        got = api.get("/integrations/quickbooks").json()
        assert got["configured"] is False and got["missing_settings"] == names
        r = api.post("/integrations/quickbooks/connect")
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "quickbooks_not_configured"
    assert error["message"].startswith(
        "QuickBooks is not set up on this server: the operator must set " + ", ".join(names)
    )
    with PageClient(site) as page:
        page.login(kit.admin.email)
        shown = page.get("/integrations")
        assert shown.status_code == 200
        assert 'id="quickbooks-not-configured"' in shown.text
        for name in names:
            assert f"<code>{name}</code>" in shown.text
        assert 'id="quickbooks-connect"' not in shown.text
        assert f"{site.url}{oauth.CALLBACK_PATH}" in shown.text
        # A Connect posted anyway (an old page): the same words, 409, nothing made.
        r = page.post("/integrations/quickbooks/connect")
        assert r.status_code == 409
        assert card_error(r).startswith("QuickBooks is not set up on this server")
    with kit.db.session() as s:
        for model in (QuickBooksOAuthState, QuickBooksConnection):
            made = select(func.count()).select_from(model).where(model.org_id == kit.org.id)
            assert s.scalar(made) == 0


def test_the_cards_connect_button_goes_to_intuit_and_back(
    site: Any, make_org: Any, qbo_app: QboApp
) -> None:
    """The page's Connect (a form post with the CSRF token): 303 to the authorize page."""
    kit = make_org()
    realm = qbo_app.company()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        card = page.get("/integrations")
        assert 'id="quickbooks-connect-form"' in card.text and "Connect to QuickBooks" in card.text
        assert page.http.post("/integrations/quickbooks/connect").status_code == 403  # no CSRF
        r = page.post("/integrations/quickbooks/connect")
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith(qbo_app.sandbox.url + "/connect/oauth2?")
        location = qbo_app.authorize_url_answer(r.headers["location"], realm)
        back = page.get(local(location))
        assert back.status_code == 303 and back.headers["location"] == "/integrations"
    with kit.db.session() as s:
        row = s.scalar(
            select(QuickBooksOAuthState).where(QuickBooksOAuthState.org_id == kit.org.id)
        )
        assert row is not None and row.user_id == kit.admin.id and row.used_at is not None
        found = connection.find(s, org_id=kit.org.id)
        assert found is not None and found.realm_id == realm and found.company_name


def test_a_state_is_used_once_even_when_two_callbacks_read_it_at_once(
    make_org: Any, qbo_app: QboApp, db: Any
) -> None:
    """Two callbacks with the same state both read it unused; the first consumes it; the
    second's conditional UPDATE matches nothing, so it is refused before Intuit sees the
    code again (which Intuit would refuse as used, in other words)."""
    from regentra.integrations.quickbooks import settings
    from regentra.integrations.quickbooks.settings import ConnectRefused

    kit = make_org()
    realm = qbo_app.company()
    location = qbo_app.authorize_url_answer(start(kit), realm)
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    answer = {"state": query["state"], "code": query["code"], "realm_id": realm, "error": None}
    with db.session() as second:
        late = second.get(User, kit.admin.id)
        seen = second.scalar(
            select(QuickBooksOAuthState).where(QuickBooksOAuthState.org_id == kit.org.id)
        )
        assert seen is not None and seen.used_at is None  # read, not yet consumed
        second.commit()  # (its snapshot stays: objects are not expired on commit)
        with db.session() as first:
            settings.finish_connect(first, user=first.get(User, kit.admin.id), **answer)
            first.commit()
        assert seen.used_at is None  # this session's view is still the old one
        with pytest.raises(ConnectRefused) as refused:
            settings.finish_connect(second, user=late, **answer)
    assert refused.value.status == 409
    assert refused.value.message.startswith("This QuickBooks sign-in was already used.")
    assert len(audits(kit, "quickbooks.connected")) == 1
