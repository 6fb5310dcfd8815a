"""Helpers for driving the HTML pages over HTTP, as a browser without JavaScript would."""

from __future__ import annotations

import re
from html.parser import HTMLParser
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


class _Tables(HTMLParser):
    """Each table's header cells (its <thead> rows) and first body row, as (tag, classes)
    per column (a colspan repeats its cell)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self._stack: list[dict[str, Any]] = []
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._stack.append({"id": found.get("id") or "", "head": [], "body": None})
        elif not self._stack:
            return
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = tag
        elif tag == "tr" and self._section == "tbody" and self._stack[-1]["body"] is None:
            self._stack[-1]["body"] = []
            self._section = "first-row"
        elif tag in ("th", "td"):
            cell = (tag, set((found.get("class") or "").split()))
            span = int(found.get("colspan") or 1)
            if self._section == "thead":
                self._stack[-1]["head"].extend([cell] * span)
            elif self._section == "first-row":
                self._stack[-1]["body"].extend([cell] * span)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._section == "first-row":
            self._section = "tbody-rest"
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())


def misaligned_headers(html: str) -> list[str]:
    """Columns whose header is not aligned as its numbers are: a `.num` cell (right-aligned)
    under a header without `num`, or the other way round (tables without a <thead> have no
    headers to align). Empty when all agree."""
    parser = _Tables()
    parser.feed(html)
    problems = []
    for table in parser.tables:
        for index, (head, cell) in enumerate(zip(table["head"], table["body"] or [], strict=False)):
            if ("num" in head[1]) != ("num" in cell[1]):
                problems.append(f"table {table['id'] or '(no id)'} column {index + 1}")
    return problems


def tables_in(html: str) -> int:
    parser = _Tables()
    parser.feed(html)
    return len(parser.tables)
