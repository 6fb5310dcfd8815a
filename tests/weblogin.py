"""Signing in through the real login form (CSRF included), as a browser would."""

from __future__ import annotations

import re

import httpx

_CSRF = re.compile(r'name="csrf_token"\s+value="([0-9a-f]{64})"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """POST the login form; `client` keeps the cookies. Returns the (unfollowed) response."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
