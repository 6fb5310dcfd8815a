"""The server-rendered pages over HTTP against a real `regentra serve` (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from regentra.invoices import service as invoices
from regentra.invoices.schemas import InvoiceCreate
from regentra.models import AuditEvent, Client, Org, TimeEntry, User
from web.pages import PASSWORD, PageClient, csrf_from, flash, form_error

SECRET = "test-session-secret-"  # prefix of REGENTRA_SESSION_SECRET set by tests/conftest.py


def count(kit: Any, model: Any, *where: Any) -> int:
    with kit.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def entries_of(kit: Any, user: User) -> int:
    return count(kit, TimeEntry, TimeEntry.org_id == kit.org.id, TimeEntry.technician_id == user.id)


def test_login_page_sets_csrf_cookie_and_renders(site: Any) -> None:
    r = site.get("/login")
    assert r.status_code == 200
    assert '<label for="email">' in r.text and '<label for="password">' in r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("regentra_csrf=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    raw = cookie.split(";")[0].split("=", 1)[1]
    assert raw not in r.text  # only its HMAC is in the page
    assert len(csrf_from(r.text)) == 64
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_wrong_password_rerenders_with_401_and_failures_are_kept(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    with PageClient(site) as page:
        page.get("/login")
        r = page.post("/login", {"email": tech.email, "password": "wrong-password!"})
        assert r.status_code == 401
        assert form_error(r.text) == "Email or password is incorrect."
        assert f'value="{tech.email}"' in r.text  # the email is kept, the password is not
        assert "wrong-password!" not in r.text
        assert "regentra_session" not in r.headers.get("set-cookie", "")
        # Each failure was committed: after the limit, even the right password is refused.
        for _ in range(9):
            assert page.post("/login", {"email": tech.email, "password": "nope"}).status_code == 401
        r = page.post("/login", {"email": tech.email, "password": PASSWORD})
        assert r.status_code == 429
        assert "Too many failed sign-in attempts" in (form_error(r.text) or "")


def test_login_sets_session_cookie_and_only_follows_local_next(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    with PageClient(site) as page:
        r = page.get("/time?status=draft")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Ftime%3Fstatus%3Ddraft"
        page.get(r.headers["location"])
        r = page.post(
            "/login", {"email": tech.email, "password": PASSWORD, "next": "/time?status=draft"}
        )
        assert r.status_code == 303 and r.headers["location"] == "/time?status=draft"
        cookie = next(c for c in r.headers.get_list("set-cookie") if "regentra_session" in c)
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        assert "Max-Age=43200" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # the test server's base URL is http://
        for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            page.http.cookies.clear()
            page.get("/login")
            r = page.post("/login", {"email": tech.email, "password": PASSWORD, "next": evil})
            assert r.headers["location"] == "/", evil
        # Signed in: /login sends you on; sign out ends the session on the server.
        assert page.get("/login").headers["location"] == "/"
        page.get("/")
        raw = page.http.cookies["regentra_session"]
        r = page.post("/logout")
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert "You have signed out." in page.follow(r).text
        replay = site.get("/", cookies={"regentra_session": raw})
        assert replay.status_code == 303 and replay.headers["location"] == "/login"


def test_every_post_needs_the_csrf_token(make_org: Any, site: Any) -> None:
    kit = make_org()
    ticket = kit.ticket()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get("/")
        good = page.token
        for path, data in (
            ("/login", {"email": kit.admin.email, "password": PASSWORD}),
            ("/logout", {}),
            ("/clients", {"name": "X", "billing_email": "x@x.example"}),
            ("/tickets", {"client_id": str(ticket.client_id), "title": "t"}),
            (f"/tickets/{ticket.id}/time", {"work_date": "2024-01-02", "duration": "60"}),
            ("/time/submit-drafts", {}),
            ("/users", {"email": "n@x.example", "password": "x" * 12, "role": "admin"}),
            ("/settings", {"name": "Hijacked", "timezone": "UTC", "default_currency": "USD"}),
            ("/tokens", {"name": "sneaky"}),
        ):
            for token in (None, "0" * 64, good[:-1] + ("0" if good[-1] != "0" else "1")):
                body = dict(data) if token is None else {**data, "csrf_token": token}
                r = page.http.post(path, data=body)
                assert r.status_code == 403, (path, token, r.status_code)
                assert "Your form expired; reload the page and try again." in r.text
        # A token minted for another browser's cookie does not work with ours.
        other = site.get("/login")
        r = page.http.post("/logout", data={"csrf_token": csrf_from(other.text)})
        assert r.status_code == 403
    assert count(kit, Client, Client.org_id == kit.org.id) == 1
    assert page.http.cookies.get("regentra_session")  # still signed in: logout was refused


PAGES = [
    "/",
    "/clients",
    "/tickets",
    "/tickets/{ticket}",
    "/time",
    "/time/{entry}/edit",
    "/approvals",
    "/audit",
    "/users",
    "/clients/{client}",
    "/invoices",
    "/invoices/new",
    "/invoices/{invoice}",
    "/catalog",
    "/integrations",
    "/billing",
    "/settings",
    "/tokens",
    "/payouts",
    "/invoice-runs",
    "/search?q=printer",
]
ADMIN_ONLY = {
    "/payouts",
    "/invoice-runs",
    "/audit",
    "/users",
    "/clients/{client}",
    "/integrations",
    "/billing",
    "/settings",
    "/invoices/new",
}
APPROVERS = {"/approvals", "/invoices", "/invoices/{invoice}"}


def draft_for(kit: Any, ticket: Any) -> Any:
    """A draft invoice of the ticket's client's approved time, made through the service."""

    def make(s: Any) -> Any:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        data = InvoiceCreate(client_id=ticket.client_id)
        return invoices.generate(s, org=org, user=admin, data=data).id

    return kit._commit(make)


def test_pages_by_role(make_org: Any, site: Any) -> None:
    kit = make_org()
    users = {role: kit.add_user(role) for role in ("technician", "approver")}
    users["admin"] = kit.admin
    ticket = kit.ticket()
    kit.entry(users["technician"], ticket=ticket, status="approved")
    ids = {"ticket": ticket.id, "client": ticket.client_id, "invoice": draft_for(kit, ticket)}
    for role, user in users.items():
        entry = kit.entry(user, ticket=ticket)
        with PageClient(site) as page:
            page.login(user.email)
            for template in PAGES:
                path = template.format(entry=entry.id, **ids)
                allowed = not (
                    (template in ADMIN_ONLY and role != "admin")
                    or (template in APPROVERS and role == "technician")
                )
                r = page.get(path)
                assert r.status_code == (200 if allowed else 403), (role, path, r.status_code)
                assert "Traceback" not in r.text
                if not allowed:
                    assert 'id="error-message"' in r.text
            nav = page.get("/").text
            assert ('href="/approvals"' in nav) == (role != "technician")
            for admin_link in (
                "/users",
                "/audit",
                "/integrations",
                "/billing",
                "/settings",
                "/payouts",
            ):
                assert (f'href="{admin_link}"' in nav) == (role == "admin")
            assert user.display_name in nav and kit.org.name in nav
            assert 'action="/logout"' in nav
    # Signed out, every page sends you to sign in and back.
    for template in PAGES:
        path = template.format(entry=entry.id, **ids)
        r = site.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login"), path


def test_technician_cannot_approve(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    other = kit.add_user("technician")
    entry = kit.entry(other, status="submitted")
    with PageClient(site) as page:
        page.login(tech.email)
        r = page.get("/approvals")
        assert r.status_code == 403
        assert "approvers and admins" in r.text
        page.get("/")
        assert page.post(f"/approvals/{entry.id}/approve").status_code == 403
        assert page.post("/approvals/bulk-approve", {"ids": [str(entry.id)]}).status_code == 403
        # Another technician's entry does not exist for them.
        assert page.get(f"/time/{entry.id}/edit").status_code == 404
    with kit.db.session() as s:
        assert s.get(TimeEntry, entry.id).status == "submitted"  # type: ignore[union-attr]


def test_log_time_rejects_bad_durations_and_creates_nothing(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    ticket = kit.ticket()
    with PageClient(site) as page:
        page.login(tech.email)
        detail = page.get(f"/tickets/{ticket.id}").text
        today = re.search(r'name="work_date" type="date" required value="([\d-]+)"', detail)
        assert today, "the work date defaults to today"
        assert 'name="hourly_rate"' not in detail  # technicians cannot set a rate
        base = {"work_date": today.group(1), "description": "Replaced toner", "billable": "on"}
        for duration, message in (
            ("1441", "between 1 minute and 24 hours"),
            ("0", "between 1 minute and 24 hours"),
            ("25:00", "between 1 minute and 24 hours"),
            ("abc", "is not understood"),
            ("", "Duration is required"),
            ("1.33h", "whole number of minutes"),
        ):
            r = page.post(f"/tickets/{ticket.id}/time", {**base, "duration": duration})
            assert r.status_code == 422, (duration, r.status_code)
            assert message in (form_error(r.text) or ""), (duration, form_error(r.text))
            assert "Replaced toner" in r.text  # what was typed is kept
        r = page.post(
            f"/tickets/{ticket.id}/time", {**base, "duration": "60", "work_date": "31/12/2024"}
        )
        assert r.status_code == 422 and "date like" in (form_error(r.text) or "")
        r = page.post(
            f"/tickets/{ticket.id}/time", {**base, "duration": "60", "work_date": "2999-01-01"}
        )
        assert r.status_code == 422 and "future" in (form_error(r.text) or "")
        assert entries_of(kit, tech) == 0
        for duration, minutes in (("1:30", 90), ("1.5h", 90), ("45", 45), ("2h 15m", 135)):
            r = page.post(f"/tickets/{ticket.id}/time", {**base, "duration": duration})
            assert r.status_code == 303, form_error(r.text)
            assert page.follow(r).status_code == 200
            with kit.db.session() as s:
                newest = s.scalars(
                    select(TimeEntry)
                    .where(TimeEntry.technician_id == tech.id)
                    .order_by(TimeEntry.id.desc())
                ).first()
                assert newest is not None and newest.minutes == minutes
                assert newest.status == "draft" and newest.billable
        mine = page.get("/time").text
        assert len(re.findall(r'data-entry-id="[^"]+" data-status="draft"', mine)) == 4
        assert ">1:30<" in mine and ">2:15<" in mine and ">0:45<" in mine and "$" in mine


def test_edit_and_submit_from_my_time(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    entry = kit.entry(tech, minutes=30)
    with PageClient(site) as page:
        page.login(tech.email)
        form = page.get(f"/time/{entry.id}/edit").text
        assert 'value="0:30"' in form  # the duration as it would be typed
        base = {"work_date": "2024-03-04", "description": "Fixed", "billable": "on"}
        r = page.post(f"/time/{entry.id}/edit", {**base, "duration": "abc"})
        assert r.status_code == 422
        r = page.post(f"/time/{entry.id}/edit", {**base, "duration": "2:00"})
        assert r.status_code == 303
        assert "Entry saved" in page.follow(r).text
        r = page.post(f"/time/{entry.id}/submit")
        assert r.status_code == 303
        listing = page.follow(r).text
        assert "Entry submitted for approval." in listing
        assert f'data-entry-id="{entry.id}" data-status="submitted"' in listing
        # Submitted entries cannot be edited or submitted again: the page says why.
        assert page.get(f"/time/{entry.id}/edit").status_code == 409
        r = page.post(f"/time/{entry.id}/submit")
        assert r.status_code == 409 and "submitted" in (form_error(r.text) or "")
        r = page.post("/time/submit-drafts")
        assert "no drafts" in page.follow(r).text
    with kit.db.session() as s:
        saved = s.get(TimeEntry, entry.id)
        assert saved is not None and saved.minutes == 120 and saved.status == "submitted"


def test_approvals_bulk_reject_and_unapprove(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    ticket = kit.ticket()
    first = kit.entry(tech, ticket=ticket, status="submitted")
    second = kit.entry(tech, ticket=ticket, status="submitted")
    own = kit.entry(approver, ticket=ticket, status="submitted")
    with PageClient(site) as page:
        page.login(approver.email)
        listing = page.get("/approvals").text
        for entry in (first, second, own):
            assert f'data-entry-id="{entry.id}" data-status="submitted"' in listing
        r = page.post("/approvals/bulk-approve", {"ids": [str(first.id), str(own.id)]})
        assert r.status_code == 303
        after = page.follow(r).text
        kind, message = flash(after) or ("", "")
        assert kind == "warning"  # done in part, said as such
        assert "Approved 1 of 2; 1 could not be:" in message
        assert "cannot approve your own time" in message
        recent = after.split('id="recent-approved"')[1]
        assert f'data-entry-id="{first.id}" data-status="approved"' in recent
        r = page.post("/approvals/bulk-approve", {})
        assert r.status_code == 422 and "Select at least one" in (form_error(r.text) or "")
        r = page.post(f"/approvals/{second.id}/reject", {"reason": "  "})
        assert r.status_code == 422 and "reason is required" in (form_error(r.text) or "")
        r = page.post(f"/approvals/{second.id}/reject", {"reason": "Wrong ticket"})
        assert r.status_code == 303
        r = page.post(f"/approvals/{own.id}/approve")
        assert r.status_code == 403 and "own time" in (form_error(r.text) or "")
        r = page.post(f"/approvals/{first.id}/unapprove")
        assert r.status_code == 303 and "back in the queue" in page.follow(r).text
    with PageClient(site) as page:
        page.login(tech.email)
        mine = page.get("/time").text
        assert f'data-entry-id="{second.id}" data-status="rejected"' in mine
        assert "Rejected: Wrong ticket" in mine
        assert f'data-entry-id="{first.id}" data-status="submitted"' in mine


def test_clients_and_users_forms(make_org: Any, site: Any) -> None:
    kit = make_org()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get("/clients")
        good = {"name": "Globex", "billing_email": "ap@globex.example", "currency": "EUR"}
        for bad, message in (
            ({"hourly_rate": "abc"}, "not an amount"),
            ({"hourly_rate": "1.234"}, "more decimals"),
            ({"billing_email": "nope"}, "not a valid email"),
            ({"currency": "XX"}, "Currency"),
            ({"name": ""}, "Name"),
        ):
            r = page.post("/clients", {**good, **bad})
            assert r.status_code == 422, (bad, r.status_code)
            assert message in (form_error(r.text) or ""), (bad, form_error(r.text))
        assert count(kit, Client, Client.org_id == kit.org.id) == 0
        r = page.post("/clients", {**good, "hourly_rate": "150.50", "compliance_enabled": "on"})
        assert r.status_code == 303
        listing = page.follow(r).text
        assert "€150.50" in listing
        assert page.post("/clients", good).status_code == 409
        with kit.db.session() as s:
            client = s.scalars(select(Client).where(Client.org_id == kit.org.id)).one()
            assert client.hourly_rate == 15050 and client.compliance_enabled
        edit = page.get(f"/clients/{client.id}").text
        assert 'value="150.50"' in edit
        r = page.post(f"/clients/{client.id}", {**good, "name": "Globex Corp", "hourly_rate": ""})
        assert r.status_code == 303
        with kit.db.session() as s:
            saved = s.get(Client, client.id)
            assert saved is not None and saved.name == "Globex Corp" and saved.hourly_rate is None
            assert not saved.compliance_enabled

        page.get("/users")
        new = {"email": "newtech@globex.example", "name": "New Tech", "role": "technician"}
        r = page.post("/users", {**new, "password": "short"})
        assert r.status_code == 422 and "at least 12 characters" in (form_error(r.text) or "")
        assert 'value="short"' not in r.text
        r = page.post("/users", {**new, "password": "long-enough-pass"})
        assert r.status_code == 303
        assert "newtech@globex.example" in page.follow(r).text
        assert page.post("/users", {**new, "password": "long-enough-pass"}).status_code == 409
    with PageClient(site) as page:
        page.login("newtech@globex.example", "long-enough-pass")
        assert page.get("/users").status_code == 403


def test_tickets_pages_and_other_orgs(make_org: Any, site: Any) -> None:
    kit, other = make_org(), make_org()
    foreign = other.ticket(title="Their ticket")
    client = kit.client(name="Initech")
    tech = kit.add_user("technician")
    with PageClient(site) as page:
        page.login(tech.email)
        page.get("/tickets")
        r = page.post("/tickets", {"client_id": "", "title": "Broken laptop"})
        assert r.status_code == 422 and "Choose a client" in (form_error(r.text) or "")
        r = page.post("/tickets", {"client_id": str(foreign.client_id), "title": "Sneaky"})
        assert r.status_code == 422
        r = page.post("/tickets", {"client_id": str(client.id), "title": "Broken laptop"})
        assert r.status_code == 303
        detail = page.follow(r)
        ticket_id = r.headers["location"].rsplit("/", 1)[1]
        assert "Broken laptop" in detail.text and "Initech" in detail.text
        assert "Their ticket" not in page.get("/tickets").text
        assert page.get(f"/tickets/{foreign.id}").status_code == 404
        assert page.get("/tickets/not-a-uuid").status_code == 422
        r = page.post(f"/tickets/{ticket_id}/status", {"status": "closed"})
        assert r.status_code == 303
        closed = page.follow(r).text
        assert 'data-status="closed"' in closed and "reopen it to log time" in closed
        r = page.post(f"/tickets/{ticket_id}/time", {"work_date": "2024-01-02", "duration": "60"})
        assert r.status_code == 409 and "closed" in (form_error(r.text) or "")
        assert "Broken laptop" not in page.get("/tickets?status=open").text
        assert "Broken laptop" in page.get("/tickets?status=closed").text
        r = page.post(f"/tickets/{ticket_id}/status", {"status": "open"})
        assert "Ticket reopened." in page.follow(r).text


def test_audit_log_filters_and_pages(make_org: Any, site: Any) -> None:
    kit = make_org()
    for n in range(55):
        kit.client(name=f"Client {n:02d}")
    with PageClient(site) as page:
        page.login(kit.admin.email)
        first = page.get("/audit?action=client.created")
        assert first.status_code == 200
        assert '<option value="client.created" selected>' in first.text
        assert first.text.count("data-event-id=") == 50
        older = re.search(r'href="([^"]+)" id="older"', first.text)
        assert older, "an Older link when there are more events"
        second = page.get(older.group(1).replace("&amp;", "&"))
        assert second.text.count("data-event-id=") == 5
        ids = set(re.findall(r'data-event-id="([^"]+)"', first.text))
        assert ids.isdisjoint(re.findall(r'data-event-id="([^"]+)"', second.text))
        assert 'id="older"' not in second.text
        assert page.get("/audit?subject_type=ticket").text.count("data-event-id=") == 0
        assert (
            page.get("/audit?date_from=2000-01-01&date_to=2000-01-02").text.count("data-event-id=")
            == 0
        )
        r = page.get("/audit?date_from=yesterday")
        assert r.status_code == 422 and "date like" in (form_error(r.text) or "")
        r = page.get("/audit?date_from=2024-02-02&date_to=2024-01-01")
        assert r.status_code == 422
        assert page.get("/audit?cursor=%%%").status_code == 422
    assert count(kit, AuditEvent, AuditEvent.org_id == kit.org.id) >= 55


def test_dashboard_counts_and_placeholders(make_org: Any, site: Any) -> None:
    kit = make_org()
    approver = kit.add_user("approver")
    tech = kit.add_user("technician")
    kit.entry(approver, status="draft")
    kit.entry(tech, status="submitted")
    with PageClient(site) as page:
        page.login(approver.email)
        home = page.get("/").text
        assert 'id="count-drafts" data-count="1"' in home
        assert 'id="count-awaiting" data-count="1"' in home
        assert 'id="count-open-tickets" data-count="2"' in home
        assert "time_entry.created" in home
        assert 'id="count-payment-failed"' not in home  # admins only
        body = page.get("/invoices").text
        assert 'id="invoice-filters"' in body  # a real page now
        assert "lorem" not in body.lower()
        assert 'id="catalog-filters"' in page.get("/catalog").text  # a real page now
    with PageClient(site) as page:
        page.login(tech.email)
        home = page.get("/").text
        assert 'id="count-submitted" data-count="1"' in home
        assert 'id="count-awaiting"' not in home
        assert 'id="count-payment-failed"' not in home
    with PageClient(site) as page:
        page.login(kit.admin.email)
        home = page.get("/").text
        assert 'id="count-payment-failed" data-count="0"' in home


def test_no_secret_looking_values_in_html(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    kit.entry(tech, status="submitted")
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get("/")
        session_raw = page.http.cookies["regentra_session"]
        csrf_raw = page.http.cookies["regentra_csrf"]
        with kit.db.session() as s:
            hashes = [u.password_hash for u in s.scalars(select(User)).all()]
        for path in ("/", "/clients", "/tickets", "/time", "/approvals", "/audit", "/users"):
            html = page.get(path).text
            for secret in (session_raw, csrf_raw, SECRET, "$argon2", PASSWORD, *hashes):
                assert secret not in html, (path, secret[:12])
            assert not re.search(r"(sk|rk|whsec)_(live|test)_[A-Za-z0-9]{6,}", html), path


def test_error_pages_render_in_the_layout(make_org: Any, site: Any) -> None:
    kit = make_org()
    with PageClient(site) as page:
        page.login(kit.admin.email)
        r = page.get("/no-such-page")
        assert r.status_code == 404
        assert 'href="/static/app.css"' in r.text and "Not found" in r.text
        assert page.get("/static/app.css").status_code == 200
        assert page.get("/static/app.js").status_code == 200
        r = page.post("/clients/not-a-uuid", {})
        assert r.status_code == 422 and "Traceback" not in r.text
        assert page.http.get("/logout").status_code == 405
