"""Sessions in the browser: CSRF tokens bound to the session and rotated at sign-in, and behind
an https base URL `__Host-` cookies with `Secure`, and HSTS."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from regentra.config import get_settings
from web.pages import PASSWORD, PageClient, csrf_from

HTTPS = "https://billing.example.com"
CSRF_REFUSED = "Your form expired; reload the page and try again."


def test_a_csrf_token_from_another_session_is_refused(make_org: Any, site: Any) -> None:
    kit = make_org()
    victim = kit.add_user("technician")
    with PageClient(site) as attacker, PageClient(site) as browser:
        attacker.login(kit.admin.email)
        browser.login(victim.email)
        # The attacker plants its own CSRF cookie in the victim's browser (cookie tossing from
        # a sibling host) and posts the token it got for that cookie in its own session.
        browser.http.cookies.set("regentra_csrf", attacker.http.cookies["regentra_csrf"])
        r = browser.http.post("/logout", data={"csrf_token": attacker.token})
        assert r.status_code == 403
        assert CSRF_REFUSED in r.text
        assert browser.get("/").status_code == 200  # still signed in
        # The browser's own token, from its own page, works.
        r = browser.post("/logout")
        assert r.status_code == 303


def test_the_csrf_token_changes_at_sign_in_and_sign_out(make_org: Any, site: Any) -> None:
    kit = make_org()
    with PageClient(site) as page:
        page.get("/login")
        before_cookie, before_token = page.http.cookies["regentra_csrf"], page.token
        r = page.post("/login", {"email": kit.admin.email, "password": PASSWORD})
        assert r.status_code == 303
        assert any(c.startswith("regentra_csrf=") for c in r.headers.get_list("set-cookie"))
        page.get("/")
        assert page.http.cookies["regentra_csrf"] != before_cookie
        assert page.token != before_token
        # A token from before sign-in (a form an attacker prepared) no longer works.
        r = page.http.post("/logout", data={"csrf_token": before_token})
        assert r.status_code == 403
        signed_in_token = page.token
        assert page.post("/logout").status_code == 303
        page.get("/login")
        assert page.token not in (signed_in_token, before_token)


@pytest.fixture
def https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGENTRA_BASE_URL", HTTPS)
    get_settings.cache_clear()


def _https_client(site: Any) -> TestClient:
    return TestClient(site.app, base_url=HTTPS, follow_redirects=False)


def test_cookies_are_host_prefixed_and_secure_behind_https(
    https: None, make_org: Any, site: Any
) -> None:
    kit = make_org()
    with _https_client(site) as http:
        r = http.get("/login")
        (csrf_cookie,) = r.headers.get_list("set-cookie")
        assert csrf_cookie.startswith("__Host-regentra_csrf=")
        token = csrf_from(r.text)
        r = http.post(
            "/login", data={"csrf_token": token, "email": kit.admin.email, "password": PASSWORD}
        )
        assert r.status_code == 303
        cookies = {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}
        assert set(cookies) == {"__Host-regentra_session", "__Host-regentra_csrf"}
        for cookie in cookies.values():
            flags = [f.strip().lower() for f in cookie.split(";")[1:]]
            assert "secure" in flags and "httponly" in flags and "path=/" in flags, cookie
            assert not any(f.startswith("domain") for f in flags), cookie
        page = http.get("/")
        assert page.status_code == 200  # the prefixed cookie is the one read
        # A cookie without the prefix (which any sibling host could set) is not a session.
        session = http.cookies["__Host-regentra_session"]
        with _https_client(site) as other:
            other.cookies.set("regentra_session", session)
            assert other.get("/").status_code == 303
        r = http.post("/logout", data={"csrf_token": csrf_from(page.text)})
        assert r.status_code == 303
        cleared = [c for c in r.headers.get_list("set-cookie") if "regentra_session" in c]
        assert len(cleared) == 1 and cleared[0].startswith("__Host-regentra_session=")
        assert "max-age=0" in cleared[0].lower() and "secure" in cleared[0].lower()
        assert http.get("/").status_code == 303  # signed out


def test_cookies_are_plain_over_http(make_org: Any, site: Any) -> None:
    kit = make_org()
    with PageClient(site) as page:
        r = page.login(kit.admin.email)
        for cookie in r.headers.get_list("set-cookie"):
            assert cookie.startswith(("regentra_session=", "regentra_csrf=")), cookie
            assert "secure" not in cookie.lower(), cookie


def test_hsts_only_behind_https(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in ("/login", "/healthz", "/api/v1/clients"):
        assert "strict-transport-security" not in site.get(path).headers, path
    monkeypatch.setenv("REGENTRA_BASE_URL", HTTPS)
    get_settings.cache_clear()
    with _https_client(site) as http:
        for path in ("/login", "/healthz", "/api/v1/clients"):
            r = http.get(path)
            assert r.headers["strict-transport-security"] == "max-age=31536000", path
