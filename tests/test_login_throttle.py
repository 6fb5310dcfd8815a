"""Login throttling: by default 10 failures per 15 minutes per (account, address) and 50 per
account across all addresses, then a clear 429; counted atomically (no race), with the client
address taken from X-Forwarded-For only behind a trusted proxy."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from conftest import start_server, stop_server
from sqlalchemy import func, select, update
from web.pages import PageClient, csrf_from

from regentra.config import ConfigError, Settings, resolve
from regentra.kit.time import utcnow
from regentra.models import LoginThrottle, WebSession
from regentra.models.login_throttle import ANY_ADDRESS

WRONG = "wrong-password-123"


def _creds(email: str, password: str) -> dict[str, str]:
    return {"email": email, "password": password}


def _failures(kit_db: Any, email: str, ip: str) -> int | None:
    with kit_db.session() as s:
        return s.scalar(
            select(LoginThrottle.failures).where(
                LoginThrottle.email == email, LoginThrottle.ip == ip
            )
        )


def _attempt(site: Any, email: str, password: str, ip: str) -> httpx.Response:
    """A sign-in from the client address `ip` (in-process: the ASGI scope's client)."""
    with site.http(client=(ip, 50000)) as http:
        token = csrf_from(http.get("/login").text)
        return http.post("/login", data={"csrf_token": token, **_creds(email, password)})


def test_eleventh_wrong_password_is_throttled(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    with PageClient(site) as browser:
        for attempt in range(10):
            r = browser.post("/login", _creds(tech.email, WRONG))
            assert r.status_code == 401, (attempt, r.status_code)
            assert "Email or password is incorrect." in r.text
        r = browser.post("/login", _creds(tech.email, WRONG))
        assert r.status_code == 429
        assert "Too many failed sign-in attempts" in r.text
        assert "Try again in 15 minutes" in r.text
        # Even the right password is refused until the window passes.
        r = browser.post("/login", _creds(tech.email, "correct-horse-battery"))
        assert r.status_code == 429
        assert "regentra_session" not in browser.http.cookies
    with kit.db.session() as s:
        assert s.scalar(select(func.count()).where(WebSession.user_id == tech.id)) == 0
    # Refused attempts are not counted again.
    assert _failures(kit.db, tech.email, "testclient") == 10
    assert _failures(kit.db, tech.email, ANY_ADDRESS) == 10
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


def test_account_is_capped_across_all_addresses(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    for n in range(50):
        r = _attempt(site, tech.email, WRONG, f"198.51.100.{n}")
        assert r.status_code == 401, (n, r.status_code)
    # A 51st address, with the wrong password or the right one: the account is capped.
    r = _attempt(site, tech.email, WRONG, "203.0.113.1")
    assert r.status_code == 429
    assert "Too many failed sign-in attempts for this account." in r.text
    assert _attempt(site, tech.email, "correct-horse-battery", "203.0.113.2").status_code == 429
    # Refused attempts took nothing from the addresses they came from.
    assert _failures(kit.db, tech.email, "203.0.113.1") in (None, 0)
    assert _failures(kit.db, tech.email, ANY_ADDRESS) == 50
    # Other accounts are not capped.
    other = kit.add_user("technician")
    assert _attempt(site, other.email, "correct-horse-battery", "203.0.113.1").status_code == 303


def test_success_gives_back_its_count_and_a_passed_window_starts_again(
    make_org: Any, site: Any
) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    for _ in range(3):
        assert _attempt(site, tech.email, WRONG, "192.0.2.1").status_code == 401
    assert _attempt(site, tech.email, "correct-horse-battery", "192.0.2.1").status_code == 303
    # The address starts afresh; the account keeps its three failures, not the success.
    assert _failures(kit.db, tech.email, "192.0.2.1") is None
    assert _failures(kit.db, tech.email, ANY_ADDRESS) == 3
    for _ in range(10):
        assert _attempt(site, tech.email, WRONG, "192.0.2.1").status_code == 401
    assert _attempt(site, tech.email, WRONG, "192.0.2.1").status_code == 429
    # Fifteen minutes later the window has passed: counting starts again at 1.
    with kit.db.session() as s:
        s.execute(
            update(LoginThrottle)
            .where(LoginThrottle.email == tech.email)
            .values(window_started_at=utcnow() - timedelta(minutes=15, seconds=1))
        )
        s.commit()
    assert _attempt(site, tech.email, WRONG, "192.0.2.1").status_code == 401
    assert _failures(kit.db, tech.email, "192.0.2.1") == 1
    assert _failures(kit.db, tech.email, ANY_ADDRESS) == 1


def test_rows_of_passed_windows_are_swept(make_org: Any, site: Any) -> None:
    kit = make_org()
    stale = f"sprayed-{uuid.uuid4().hex[:8]}@example.com"
    with kit.db.session() as s:
        for ip in ("192.0.2.10", "192.0.2.11", ANY_ADDRESS):
            s.add(
                LoginThrottle(
                    email=stale,
                    ip=ip,
                    failures=3,
                    window_started_at=utcnow() - timedelta(minutes=16),
                )
            )
        s.commit()
    # A new window opening (any account's first failure) sweeps the rows of passed windows.
    assert (
        _attempt(site, f"other-{uuid.uuid4().hex[:8]}@example.com", WRONG, "192.0.2.1").status_code
        == 401
    )
    with kit.db.session() as s:
        assert s.scalar(select(func.count()).where(LoginThrottle.email == stale)) == 0


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    ok = Settings(trusted_proxies=" 10.0.0.5, 10.1.0.0/16 ,::1")
    assert resolve(ok).trusted_proxy_list == ["10.0.0.5", "10.1.0.0/16", "::1"]
    assert Settings(trusted_proxies="").trusted_proxy_list == []
    with pytest.raises(ConfigError, match=re.escape("REGENTRA_TRUSTED_PROXIES: 'proxy.internal'")):
        resolve(Settings(trusted_proxies="10.0.0.5,proxy.internal"))


# ---- real servers ---------------------------------------------------------------------------


def _login_form(url: str) -> tuple[dict[str, str], str]:
    """The CSRF cookie and token of a fresh visitor to `url`'s sign-in page."""
    r = httpx.get(f"{url}/login", timeout=30)
    return dict(r.cookies), csrf_from(r.text)


def _post_login(
    url: str, form: tuple[dict[str, str], str], email: str, forwarded_for: str | None = None
) -> int:
    cookies, token = form
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with httpx.Client(base_url=url, cookies=cookies, timeout=60) as http:
        r = http.post("/login", data={"csrf_token": token, **_creds(email, WRONG)}, headers=headers)
    return r.status_code


@pytest.mark.e2e
def test_concurrent_wrong_passwords_get_exactly_the_limit(live_server: Any, make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    form = _login_form(live_server.url)
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = Counter(
            pool.map(lambda _: _post_login(live_server.url, form, tech.email), range(200))
        )
    assert statuses == Counter({401: 10, 429: 190}), (statuses, live_server.log()[-3000:])


@pytest.mark.e2e
def test_forged_forwarded_for_does_not_change_the_address(live_server: Any) -> None:
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    form = _login_form(live_server.url)
    for n in range(10):
        assert _post_login(live_server.url, form, email, f"198.51.100.{n}") == 401
    # Eleven different forged addresses are one address: the connection's.
    assert _post_login(live_server.url, form, email, "198.51.100.99") == 429


@pytest.mark.e2e
def test_forwarded_for_from_a_trusted_proxy_is_the_address(database: Any) -> None:
    server = start_server(database.url, extra_env={"REGENTRA_TRUSTED_PROXIES": "127.0.0.1"})
    try:
        email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        form = _login_form(server.url)
        for n in range(12):  # each address has its own count: none reaches 10
            assert _post_login(server.url, form, email, f"198.51.100.{n}") == 401
        # A client cannot hide behind addresses it forges: the proxy appends the real one.
        for _ in range(10):
            assert _post_login(server.url, form, email, "10.9.9.9, 203.0.113.7") == 401
        assert _post_login(server.url, form, email, "10.9.9.8, 203.0.113.7") == 429
    finally:
        stop_server(server)
