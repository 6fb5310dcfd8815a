"""Login throttling: 10 failures per 15 minutes per (account, IP), then a clear 429."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from web.pages import PageClient

from regentra.models import LoginFailure, WebSession


def _creds(email: str, password: str) -> dict[str, str]:
    return {"email": email, "password": password}


def test_eleventh_wrong_password_is_throttled(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    with PageClient(site) as browser:
        for attempt in range(10):
            r = browser.post("/login", _creds(tech.email, "wrong-password-123"))
            assert r.status_code == 401, (attempt, r.status_code)
            assert "Email or password is incorrect." in r.text
        r = browser.post("/login", _creds(tech.email, "wrong-password-123"))
        assert r.status_code == 429
        assert "Too many failed sign-in attempts" in r.text
        assert "Try again in 15 minutes" in r.text
        # Even the right password is refused until the window passes.
        r = browser.post("/login", _creds(tech.email, "correct-horse-battery"))
        assert r.status_code == 429
        assert "regentra_session" not in browser.http.cookies
    with kit.db.session() as s:
        assert s.scalar(select(func.count()).where(WebSession.user_id == tech.id)) == 0
        failures = s.scalar(select(func.count()).where(LoginFailure.email == tech.email))
    assert failures == 10  # refused attempts are not counted again
    # Another account from the same address is unaffected.
    other = kit.add_user("technician")
    with PageClient(site) as browser:
        r = browser.post("/login", _creds(other.email, "correct-horse-battery"))
        assert r.status_code == 303
        assert browser.http.cookies.get("regentra_session")


def test_unknown_account_gets_the_same_answer(site: Any) -> None:
    with PageClient(site) as browser:
        r = browser.post("/login", _creds("nobody@nowhere.example.com", "whatever-password"))
    assert r.status_code == 401
    assert "Email or password is incorrect." in r.text
