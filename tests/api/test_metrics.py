"""`/metrics` (in-process): label values from bounded sets only, so no caller can grow the
series; and only for a bearer of `REGENTRA_METRICS_TOKEN` (unset: 404, as if absent)."""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

import pytest

from regentra.api.middleware import LATENCY, REQUESTS
from regentra.config import get_settings

TOKEN = "mt_" + "k" * 30


def _series() -> int:
    return sum(len(metric.samples) for m in (REQUESTS, LATENCY) for metric in m.collect())


def _random_word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def test_random_methods_and_paths_add_no_series(site: Any, make_org: Any) -> None:
    kit = make_org()
    rng = random.Random(13)
    headers = {"Authorization": f"Bearer {kit.token(kit.admin)}"}

    def send(method: str, path: str) -> None:
        site.http().request(method, path, headers=headers)

    def one_of_each(i: int) -> None:
        method = rng.choice(["GET", "POST", "DELETE", _random_word(rng, 8).upper()])
        path = rng.choice(
            [
                f"/{_random_word(rng, 12)}/{i}",
                f"/api/v1/clients/{uuid.uuid4()}",
                f"/api/v1/{_random_word(rng, 6)}?{_random_word(rng, 4)}=1",
                f"/static/{_random_word(rng, 10)}.css",
            ]
        )
        send(method, path)

    for i in range(200):  # every kind of label value seen once
        one_of_each(i)
    before = _series()
    for i in range(1000):
        one_of_each(i)
    assert _series() == before
    methods = {s.labels["method"] for m in REQUESTS.collect() for s in m.samples}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    routes = {s.labels["route"] for m in REQUESTS.collect() for s in m.samples}
    assert "/clients/{client_id}" in routes  # the template, not the client's id
    assert not any(r.endswith(".css") or r.count("-") >= 4 for r in routes), routes


def test_metrics_need_the_token(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    http = site.http()
    assert http.get("/metrics").status_code == 404  # no token set: no /metrics
    assert http.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    monkeypatch.setenv("REGENTRA_METRICS_TOKEN", TOKEN)
    get_settings.cache_clear()
    assert http.get("/metrics").status_code == 404
    for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer"):
        assert http.get("/metrics", headers={"Authorization": wrong}).status_code == 404
    r = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and "regentra_http_requests_total" in r.text
    assert TOKEN not in r.text
