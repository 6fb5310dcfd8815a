"""Password reset links: made by an admin (API, Users page), shown once, stored as a hash,
single use, short-lived; using one sets the password and ends the user's sessions."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, update

from regentra.kit.time import utcnow
from regentra.log_setup import redact_path
from regentra.models import AuditEvent, PasswordReset
from web.pages import PageClient, flash, form_error

NEW_PASSWORD = "tangerine-oboe-glacier-42"


def _issue(kit: Any, user: Any) -> str:
    with kit.api() as api:
        r = api.post(f"/users/{user.id}/password-reset")
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    return str(r.json()["link"])


def _path(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def test_reset_link_sets_password_once_and_ends_sessions(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    link = _issue(kit, tech)
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert urlsplit(link).path == "/password-reset" and len(token) >= 40
    with kit.db.session() as s:
        row = s.scalars(select(PasswordReset).where(PasswordReset.user_id == tech.id)).one()
        assert token not in row.token_hash
        assert timedelta(minutes=25) < row.expires_at - utcnow() <= timedelta(minutes=30)
        details = s.scalars(
            select(AuditEvent.details).where(
                AuditEvent.subject_id == str(tech.id),
                AuditEvent.action == "user.password_reset_issued",
            )
        ).one()
        assert token not in str(details)
    assert token not in redact_path(_path(link))
    with PageClient(site) as signed_in, PageClient(site) as page:
        signed_in.login(tech.email)
        form = page.get(_path(link))
        assert form.status_code == 200 and tech.email in form.text
        differ = page.post("/password-reset", {"token": token, "password": NEW_PASSWORD})
        assert differ.status_code == 422 and form_error(differ.text) == "The two passwords differ."
        short = page.post(
            "/password-reset", {"token": token, "password": "short", "confirm": "short"}
        )
        assert short.status_code == 422 and "at least" in (form_error(short.text) or "")
        done = page.post(
            "/password-reset", {"token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        )
        assert done.status_code == 303 and done.headers["location"] == "/login"
        assert flash(page.follow(done).text) == (
            "success",
            "Your password is set. Sign in with it.",
        )
        # The other browser's session ended with it.
        assert signed_in.get("/").status_code == 303
        again = page.post(
            "/password-reset", {"token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        )
        assert again.status_code == 400 and "invalid, used or expired" in again.text
        assert page.get(_path(link)).status_code == 400
    with PageClient(site) as page:
        page.login(tech.email, NEW_PASSWORD)
    with PageClient(site) as page:
        page.get("/login")
        old = page.post("/login", {"email": tech.email, "password": "correct-horse-battery"})
        assert old.status_code == 401
    with kit.db.session() as s:
        actions = set(
            s.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == str(tech.id)))
        )
    assert "user.password_reset_completed" in actions


def test_expired_replaced_and_deactivated_links_do_not_work(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    first = _issue(kit, tech)
    second = _issue(kit, tech)  # replaces the first
    with PageClient(site) as page:
        assert page.get(_path(first)).status_code == 400
        assert page.get(_path(second)).status_code == 200
        with kit.db.session() as s:
            s.execute(
                update(PasswordReset)
                .where(PasswordReset.user_id == tech.id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            s.commit()
        assert page.get(_path(second)).status_code == 400
        token = parse_qs(urlsplit(second).query)["token"][0]
        r = page.post(
            "/password-reset", {"token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        )
        assert r.status_code == 400
        assert page.get("/password-reset?token=nonsense").status_code == 400
    pending = _issue(kit, tech)
    with kit.api() as api:
        assert api.post(f"/users/{tech.id}/deactivate").status_code == 200
        r = api.post(f"/users/{tech.id}/password-reset")
        assert r.status_code == 409 and "reactivate" in r.json()["error"]["message"]
        # A link made before the deactivation does not come back with the reactivation.
        assert api.post(f"/users/{tech.id}/reactivate").status_code == 200
    with PageClient(site) as page:
        assert page.get(_path(pending)).status_code == 400


def test_users_page_shows_the_link_once(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    with PageClient(site) as page:
        page.login(kit.admin.email)
        page.get("/users")
        r = page.post(f"/users/{tech.id}/password-reset")
        assert r.status_code == 201
        shown = re.search(r'id="reset-link"[^>]*value="([^"]+)"', r.text)
        assert shown and "/password-reset?token=" in shown.group(1)
        assert shown.group(1) not in page.get("/users").text
