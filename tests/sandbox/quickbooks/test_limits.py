"""Throttling at Intuit's per-realm limits, injected faults, the control API, and
persistence with --state: each on a sandbox of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sandbox.quickbooks.conftest import QboSandbox, unique
from sandbox.quickbooks.helpers import created, customer, fault, find, invoice


def test_429_at_the_per_second_limit_with_retry_after(make_qbo: Callable[..., QboSandbox]) -> None:
    box = make_qbo("--rate-limit", "500", "--per-second", "3")
    auth = box.connect(box.realm("USD"))
    with box.http(auth) as api:
        answers = [api.get(f"/companyinfo/{auth.realm_id}") for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        error = fault(answers[3], 429)
        assert error["code"] == "3001" and int(answers[3].headers["Retry-After"]) >= 1
        # The limit is per company: the other realm is not throttled.
        other = box.connect(box.realm("GBP"))
    with box.http(other) as api:
        assert api.get(f"/companyinfo/{other.realm_id}").status_code == 200


def test_per_minute_limit_and_control_changes_limits(make_qbo: Callable[..., QboSandbox]) -> None:
    box = make_qbo("--rate-limit", "2", "--per-second", "0")
    auth = box.connect(box.realm("USD"))
    with box.http(auth) as api:
        codes = [api.get(f"/companyinfo/{auth.realm_id}").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        with box.control() as c:
            assert c.post("/_sandbox/limits", json={"per_minute": 0}).json()["per_minute"] == 0
            assert c.post("/_sandbox/limits", json={"per_minute": -1}).status_code == 400
        assert api.get(f"/companyinfo/{auth.realm_id}").status_code == 200


def test_concurrent_limit(make_qbo: Callable[..., QboSandbox]) -> None:
    box = make_qbo("--rate-limit", "500", "--per-second", "0", "--concurrent", "1")
    auth = box.connect(box.realm("USD"))
    with box.control() as c:
        c.post("/_sandbox/faults", json={"latency_ms": 300}).raise_for_status()
    results: list[int] = []
    url = f"{box.url}/v3/company/{auth.realm_id}/companyinfo/{auth.realm_id}"

    def call() -> None:
        answer = httpx.get(url, headers={"Authorization": f"Bearer {auth.access_token}"})
        results.append(answer.status_code)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 429, 429]


def test_injected_5xx_faults(make_qbo: Callable[..., QboSandbox]) -> None:
    box = make_qbo("--rate-limit", "0")
    auth = box.connect(box.realm("USD"))
    with box.control() as c:
        c.post("/_sandbox/faults", json={"rate_503": 1.0}).raise_for_status()
        assert c.post("/_sandbox/faults", json={"rate_503": 2}).status_code == 400
    with box.http(auth) as api:
        name = unique("Down")
        error = fault(
            api.post("/customer", json={"DisplayName": name}, params={"requestid": "r1"}), 503
        )
        assert error["type"] == "SystemFault" and error["code"] == "10000"
        with box.control() as c:
            c.post("/_sandbox/faults", json={}).raise_for_status()
        # A failed (5xx) request is not remembered under its requestid: the retry creates it.
        again = api.post("/customer", json={"DisplayName": name}, params={"requestid": "r1"})
        assert again.status_code == 200


def test_reply_latency_delays_the_answer_after_the_change(
    make_qbo: Callable[..., QboSandbox],
) -> None:
    """A client that gives up while the answer is held back finds its object made, and the
    same requestid then replays it instead of making a second one."""
    box = make_qbo("--rate-limit", "0")
    auth = box.connect(box.realm("USD"))
    with box.control() as c:
        c.post("/_sandbox/faults", json={"reply_latency_ms": 1500}).raise_for_status()
    name = unique("Slow")
    with box.http(auth) as api:
        with pytest.raises(httpx.ReadTimeout):
            api.post(
                "/customer", json={"DisplayName": name}, params={"requestid": "slow-1"}, timeout=0.3
            )
        with box.control() as c:
            c.post("/_sandbox/faults", json={}).raise_for_status()
            made = [o for o in c.get(f"/_sandbox/companies/{auth.realm_id}/objects").json()
                    ["Customer"] if o["DisplayName"] == name]  # fmt: skip
        assert len(made) == 1
        again = api.post("/customer", json={"DisplayName": name}, params={"requestid": "slow-1"})
        assert again.status_code == 200 and again.json()["Customer"]["Id"] == made[0]["Id"]


def test_control_lists_objects_creates_companies_and_resets(
    make_qbo: Callable[..., QboSandbox],
) -> None:
    box = make_qbo("--rate-limit", "0")
    with box.control() as c:
        made = c.post("/_sandbox/companies", json={"name": "Acme EU", "home_currency": "EUR",
                                                   "multicurrency": True}).json()  # fmt: skip
    assert made["home_currency"] == "EUR"
    auth = box.connect(made["realm_id"])
    with box.http(auth) as api:
        assert find(api, "Account", "Stripe Clearing")["CurrencyRef"] == {"value": "EUR"}
        cust = customer(api)
        invoice(api, cust["Id"], 12)
    with box.control() as c:
        listed = c.get(f"/_sandbox/companies/{made['realm_id']}/objects").json()
        assert [i["CustomerRef"]["value"] for i in listed["Invoice"]] == [cust["Id"]]
        page = c.get(f"/company/{made['realm_id']}")
        assert page.status_code == 200 and cust["DisplayName"] in page.text
        c.post("/_sandbox/reset").raise_for_status()
        listed = c.get(f"/_sandbox/companies/{made['realm_id']}/objects").json()
    assert "Invoice" not in listed and len(listed["Account"]) == 7


@pytest.mark.e2e
def test_state_survives_a_restart(make_qbo: Callable[..., QboSandbox], tmp_path: Path) -> None:
    state = tmp_path / "qbo.json"
    first = make_qbo("--rate-limit", "0", state=state)
    auth = first.connect(first.realm("USD"))
    with first.http(auth) as api:
        cust = created(api, "Customer", {"DisplayName": unique("Kept")})
        api.post("/customer", json={"DisplayName": unique("R")}, params={"requestid": "keep"})
    first.process.terminate()
    first.process.wait(timeout=10)
    second = make_qbo("--rate-limit", "0", state=state)
    # Apps, grants and tokens survive too: the old refresh token refreshes on the new server.
    again = second.auth_client(auth.client_id, auth.client_secret)
    again.refresh(refresh_token=auth.refresh_token)
    again.realm_id = auth.realm_id
    auth = again
    with second.http(auth) as api:
        assert (
            api.get(f"/customer/{cust['Id']}").json()["Customer"]["DisplayName"]
            == cust["DisplayName"]
        )
        replay = api.post("/customer", json={"DisplayName": "x"}, params={"requestid": "keep"})
        assert replay.status_code == 200 and replay.json()["Customer"]["DisplayName"] != "x"


def test_redirect_uris_given_at_start_join_an_app_kept_in_the_state_file(tmp_path: Path) -> None:
    """`--redirect-uri` is honoured also when `--state` already holds the app (the demo
    restarts its sandbox on a kept state file)."""
    from regentra.sandbox.quickbooks.state import DEFAULT_CLIENT_ID, Sandbox

    state = tmp_path / "qbo.json"
    first = Sandbox(state_file=state, redirect_uris=["http://127.0.0.1:8000/a"])
    first.save()
    again = Sandbox(state_file=state, redirect_uris=["http://127.0.0.1:8000/b"])
    assert again.apps[DEFAULT_CLIENT_ID]["redirect_uris"] == [
        "http://127.0.0.1:8000/a",
        "http://127.0.0.1:8000/b",
    ]
    assert len(again.companies) == len(first.companies)  # the books were loaded, not re-seeded
