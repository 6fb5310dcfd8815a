"""Helpers for driving the HTML pages over HTTP, as a browser without JavaScript would."""

from __future__ import annotations

import re
from typing import Any

import httpx

PASSWORD = "correct-horse-battery"  # tests/factories.py's default for created users
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
_FORM_ERROR = re.compile(r'id="form-error">([^<]*)<')
_FLASH = re.compile(r'id="flash" data-kind="(\w+)">([^<]*)<')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token field"
    return match.group(1)


def form_error(html: str) -> str | None:
    match = _FORM_ERROR.search(html)
    return match.group(1) if match else None


def flash(html: str) -> tuple[str, str] | None:
    match = _FLASH.search(html)
    return (match.group(1), match.group(2)) if match else None


class PageClient:
    """An httpx client that keeps cookies and fills in the CSRF token of the last page."""

    def __init__(self, base: Any) -> None:
        """`base`: the in-process `site` (anything with `.http()`), or a live server or its
        URL."""
        if hasattr(base, "http"):
            self.http = base.http()
        else:
            url = base if isinstance(base, str) else base.url
            self.http = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
        self.token: str | None = None

    def __enter__(self) -> PageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def get(self, path: str, **kw: Any) -> httpx.Response:
        response = self.http.get(path, **kw)
        if "csrf_token" in response.text:
            self.token = csrf_from(response.text)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        if self.token is None:
            self.get("/login")
        body = {"csrf_token": self.token, **(data or {})}
        return self.http.post(path, data=body, **kw)

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, (response.status_code, response.text[:2000])
        return self.get(response.headers["location"])

    def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        self.get("/login")
        response = self.post("/login", {"email": email, "password": password})
        assert response.status_code == 303, form_error(response.text)
        # Signing in rotates the CSRF cookie (and the token is bound to the session): take the
        # new token from a page, as a browser following the redirect would.
        self.get("/")
        return response
