"""`/docs` works offline (Swagger UI's files served by the app, from the `swagger-ui-bundle`
package, no CDN), and `REGENTRA_API_DOCS=false` turns it off with `/openapi.json`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from regentra.app import create_app
from regentra.config import get_settings


def test_docs_are_served_from_here(site: Any) -> None:
    http = site.http()
    page = http.get("/docs")
    assert page.status_code == 200, page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/docs/assets/") for u in urls), urls
    assert "https://" not in page.text and "cdn" not in page.text.lower()
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
    for url in urls:
        asset = http.get(url)
        assert asset.status_code == 200 and len(asset.content) > 500, url
    assert http.get("/openapi.json").status_code == 200
    assert http.get("/redoc").status_code == 404  # ReDoc loads from a CDN: not served


def test_docs_and_openapi_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGENTRA_API_DOCS", "false")
    get_settings.cache_clear()
    with TestClient(create_app(), raise_server_exceptions=False) as http:
        for path in ("/docs", "/openapi.json", "/docs/assets/swagger-ui.css"):
            assert http.get(path).status_code == 404, path
