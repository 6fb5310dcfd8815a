"""The Stripe client against the real Stripe sandbox, run as a separate server: pagination,
errors a person can act on, 429 back-off, the cross-process throttle, idempotency keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from conftest import ROOT, free_port
from sandbox.stripe.conftest import StripeSandbox, new_key, start_sandbox, stop_sandbox
from sqlalchemy.orm import Session
from support.redis_server import RedisServer
from support.together import WAIT_FOR_GO, run_together

from regentra.config import get_settings
from regentra.db import make_engine
from regentra.errors import Conflict, RegentraError
from regentra.integrations.stripe import client as stripe_client
from regentra.integrations.stripe.client import (
    KEY_REJECTED,
    NOT_CONNECTED,
    RATE_LIMITED,
    UNREACHABLE,
    OrgStripe,
    StripeRejected,
    StripeUnavailable,
    for_org,
    idempotency_key,
)
from regentra.migrate import upgrade
from regentra.orgs import secrets
from regentra.orgs import service as orgs_service
from regentra.queue import Transient

# ---- fixtures --------------------------------------------------------------------------------

Configure = Callable[..., None]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Configure]:
    """Set REGENTRA_* settings for this test (and clear the settings cache)."""

    def apply(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"REGENTRA_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[StripeSandbox]:
    """A sandbox of this module's own, rate limit off; fault tests set and clear faults."""
    box = start_sandbox("--rate-limit", "0")
    yield box
    stop_sandbox(box)


@pytest.fixture
def on_sandbox(sandbox: StripeSandbox, configure: Configure) -> StripeSandbox:
    configure(stripe_api_base=sandbox.url)
    return sandbox


@pytest.fixture
def faults(sandbox: StripeSandbox) -> Iterator[Callable[..., None]]:
    control = sandbox.control(new_key())

    def set_faults(**values: float) -> None:
        control.post("/_sandbox/faults", data={k: str(v) for k, v in values.items()})

    yield set_faults
    control.post("/_sandbox/faults", data={})
    control.close()


def org_stripe(key: str | None = None) -> OrgStripe:
    return OrgStripe(org_id=uuid.uuid4(), secret_key=key or new_key())


def requests_log(box: StripeSandbox, key: str) -> list[dict[str, Any]]:
    with box.control(key) as control:
        return list(control.get("/_sandbox/requests", params={"limit": 10000}).json()["data"])


def seed_products(box: StripeSandbox, key: str, count: int) -> set[str]:
    sdk = box.client(key)
    return {sdk.v1.products.create(params={"name": f"Service {i:03d}"}).id for i in range(count)}


def list_products(c: Any) -> Any:
    return c.v1.products.list(params={"limit": 100})


def assert_no_secret(text: str, key: str) -> None:
    assert key not in text
    for prefix in ("sk_", "rk_", "pk_", "whsec_"):
        assert prefix not in text


# ---- pagination ------------------------------------------------------------------------------


def test_iterate_yields_every_object_across_pages(on_sandbox: StripeSandbox) -> None:
    key = new_key()
    seeded = seed_products(on_sandbox, key, 250)
    items = list(org_stripe(key).iterate(list_products, op="products.list"))
    assert all(isinstance(item, dict) for item in items)
    assert len(items) == 250 and {item["id"] for item in items} == seeded
    pages = [r for r in requests_log(on_sandbox, key) if r["path"] == "/v1/products"]
    assert [r["method"] for r in pages].count("GET") == 3  # 100 + 100 + 50


def test_pages_yields_every_object_across_pages_as_json(on_sandbox: StripeSandbox) -> None:
    """`pages`, the raw-JSON list a send reads: every object once, by `starting_after`,
    with the query kept on every page."""
    key = new_key()
    seeded = seed_products(on_sandbox, key, 250)
    items = list(org_stripe(key).pages("/v1/products", {"limit": 100}, op="products.list"))
    assert not any(isinstance(item, stripe.StripeObject) for item in items)
    assert len(items) == 250 and {item["id"] for item in items} == seeded
    pages = [r for r in requests_log(on_sandbox, key) if r["path"] == "/v1/products"]
    assert [r["method"] for r in pages].count("GET") == 3  # 100 + 100 + 50
    assert list(org_stripe(key).pages("/v1/customers", {"limit": 100}, op="c.list")) == []


def test_retrieve_account(on_sandbox: StripeSandbox) -> None:
    account = org_stripe().retrieve_account()
    assert account["id"].startswith("acct_") and account["object"] == "account"


# ---- errors a person can act on --------------------------------------------------------------


def test_invalid_key_is_rejected_clearly(
    on_sandbox: StripeSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "sk_test_" + "tooShort"
    with pytest.raises(StripeRejected) as rejected:
        org_stripe(key).retrieve_account()
    assert rejected.value.message.startswith(KEY_REJECTED)
    assert rejected.value.status == 422
    assert_no_secret(rejected.value.message, key)
    captured = capsys.readouterr()
    assert key not in captured.out + captured.err


def test_publishable_key_is_rejected(on_sandbox: StripeSandbox) -> None:
    key = "pk_test_" + uuid.uuid4().hex
    with pytest.raises(StripeRejected) as rejected:
        org_stripe(key).retrieve_account()
    assert rejected.value.message.startswith(KEY_REJECTED)
    assert "publishable key" in rejected.value.message
    assert_no_secret(rejected.value.message, key)


def test_sandbox_down_is_could_not_reach_stripe(configure: Configure) -> None:
    configure(stripe_api_base=f"http://127.0.0.1:{free_port()}", stripe_timeout_seconds=2)
    key = new_key()
    started = time.monotonic()
    with pytest.raises(StripeUnavailable) as unavailable:
        org_stripe(key).retrieve_account()
    assert unavailable.value.message.startswith(UNREACHABLE)
    assert unavailable.value.status in (502, 503)
    assert isinstance(unavailable.value, Transient)  # a task retries it later
    assert time.monotonic() - started >= 0.5  # after the SDK's own network retries
    assert_no_secret(unavailable.value.message, key)


def test_invalid_request_keeps_stripes_message(on_sandbox: StripeSandbox) -> None:
    with pytest.raises(StripeRejected) as rejected:
        org_stripe().call(lambda c: c.v1.products.retrieve("prod_missing"), op="products.retrieve")
    assert rejected.value.status == 400
    assert rejected.value.message == "No such product: 'prod_missing'"
    assert rejected.value.details["stripe_request_id"].startswith("req_")


def _raise(exc: Exception) -> Callable[[Any], Any]:
    def fn(_client: Any) -> Any:
        raise exc

    return fn


def test_restricted_key_permission_names_the_resource() -> None:
    """The permission is named as the Dashboard's restricted-key form names it (invoice items
    fall under Invoices), fed Stripe's own error."""
    denied = stripe.PermissionError(
        "The provided key 'rk_test_abc…xyz' does not have the required permissions",
        http_status=403,
    )
    restricted = org_stripe("rk_test_" + uuid.uuid4().hex)
    with pytest.raises(StripeRejected) as rejected:
        restricted.call(_raise(denied), op="products.list")
    assert rejected.value.message.startswith("This restricted key lacks read access to Products")
    assert_no_secret(rejected.value.message, "rk_test_abc")
    with pytest.raises(StripeRejected) as rejected:
        restricted.call(_raise(denied), op="payment_intents.create")
    assert rejected.value.message.startswith(
        "This restricted key lacks write access to PaymentIntents"
    )
    with pytest.raises(StripeRejected) as rejected:
        restricted.call(_raise(denied), op="invoice_items.create")
    assert rejected.value.message.startswith("This restricted key lacks write access to Invoices")


def test_stripe_messages_are_scrubbed_of_keys() -> None:
    leaky = stripe.InvalidRequestError(
        "Something about sk_live_abcdef123 and whsec_zzz", param="x", http_status=400
    )
    with pytest.raises(StripeRejected) as rejected:
        org_stripe().call(_raise(leaky), op="products.create")
    assert_no_secret(rejected.value.message, "sk_live_abcdef123")


# ---- 429s ------------------------------------------------------------------------------------


def test_429_storm_completes_without_duplicates(
    on_sandbox: StripeSandbox, configure: Configure, faults: Callable[..., None]
) -> None:
    configure(
        stripe_rate_limit_retries=15,
        stripe_backoff_base_seconds=0.02,
        stripe_backoff_max_seconds=0.2,
    )
    key = new_key()
    seeded = seed_products(on_sandbox, key, 250)
    oc = org_stripe(key)
    faults(rate_429=0.5)
    items = list(oc.iterate(list_products, op="products.list"))
    assert len(items) == 250 and {item["id"] for item in items} == seeded
    # Creates retried through the storm carry one idempotency key each: no duplicates.
    for i in range(20):
        our_id = uuid.uuid4()
        oc.call(
            lambda c, i=i, our_id=our_id: c.v1.products.create(
                params={"name": f"Storm {i:02d}"},
                options={"idempotency_key": idempotency_key("test-storm", our_id)},
            ),
            op="products.create",
        )
    faults()
    names = [item["name"] for item in oc.iterate(list_products, op="products.list")]
    assert len(names) == 270
    assert sorted(n for n in names if n.startswith("Storm")) == [
        f"Storm {i:02d}" for i in range(20)
    ]
    statuses = [r["status"] for r in requests_log(on_sandbox, key)]
    assert statuses.count(429) > 5  # the storm did happen


def test_rate_limit_exhausted_is_a_clear_transient_error(
    on_sandbox: StripeSandbox, configure: Configure, faults: Callable[..., None]
) -> None:
    configure(stripe_rate_limit_retries=2, stripe_backoff_base_seconds=0.01)
    key = new_key()
    faults(rate_429=1)
    with pytest.raises(StripeUnavailable) as unavailable:
        org_stripe(key).retrieve_account()
    assert unavailable.value.message == RATE_LIMITED
    assert unavailable.value.status == 503
    assert isinstance(unavailable.value, Transient)
    assert [r["status"] for r in requests_log(on_sandbox, key)] == [429, 429, 429]


def test_retry_after_header_is_honoured(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(stripe_backoff_base_seconds=0.01, stripe_backoff_max_seconds=5)
    slept: list[float] = []
    monkeypatch.setattr(stripe_client.time, "sleep", slept.append)
    answers = iter(
        [stripe.RateLimitError("slow down", http_status=429, headers={"Retry-After": "2"})]
    )

    def fn(_client: Any) -> str:
        for exc in answers:
            raise exc
        return "ok"

    assert org_stripe().call(fn, op="products.list") == "ok"
    assert slept == [2.0]
    # Stripe-Should-Retry: false is final at once.
    refused = stripe.RateLimitError("no", http_status=429, headers={"Stripe-Should-Retry": "false"})
    with pytest.raises(StripeUnavailable):
        org_stripe().call(_raise(refused), op="products.list")
    assert slept == [2.0]


# ---- the throttle, across processes ----------------------------------------------------------

BURST_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time, uuid
    from regentra.integrations.stripe.client import OrgStripe
    org_id, key, calls, threads = sys.argv[1:5]
    oc = OrgStripe(org_id=uuid.UUID(org_id), secret_key=key)
    WAIT_FOR_GO
    def work():
        for _ in range(int(calls) // int(threads)):
            oc.retrieve_account()
    workers = [threading.Thread(target=work) for _ in range(int(threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print("done")
    """
).replace("WAIT_FOR_GO", WAIT_FOR_GO)


@pytest.fixture(scope="module")
def limited_sandbox() -> Iterator[StripeSandbox]:
    """A sandbox enforcing Stripe's test-mode limit: 25 requests per second per account."""
    box = start_sandbox("--rate-limit", "25")
    yield box
    stop_sandbox(box)


def burst(
    box: StripeSandbox,
    queue_url: str,
    max_rps: int,
    *,
    mode: str = "test",
    calls: int = 100,
    **settings: str,
) -> list[dict[str, Any]]:
    """`calls` calls (GET /v1/account) for one org from two processes of 5 threads each; the
    sandbox's log."""
    org_id, key = str(uuid.uuid4()), new_key(mode)
    env = {
        **os.environ,
        "REGENTRA_STRIPE_API_BASE": box.url,
        "REGENTRA_QUEUE_URL": queue_url,
        "REGENTRA_STRIPE_MAX_RPS": str(max_rps),
        "REGENTRA_STRIPE_BACKOFF_BASE_SECONDS": "0.05",
        "REGENTRA_STRIPE_RATE_LIMIT_RETRIES": "20",
        **{f"REGENTRA_{name.upper()}": value for name, value in settings.items()},
    }
    command = [sys.executable, "-c", BURST_SCRIPT, org_id, key, str(calls // 2), "5"]
    outputs = run_together([command, command], cwd=ROOT, env=env)
    assert all("done" in out for out in outputs), outputs
    return requests_log(box, key)


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_throttle_keeps_a_two_process_burst_under_the_limit(
    limited_sandbox: StripeSandbox, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    else:
        queue_url = request.getfixturevalue("redis_server").url
    # 15/s per org: two processes that did not share the budget would send 30/s and meet the
    # sandbox's 25/s limit. (The product's 20/s leaves 5/s of headroom; on a loaded 2-core
    # runner, scheduling jitter once bunched calls released 50 ms apart past it.)
    log = burst(limited_sandbox, queue_url, max_rps=15)
    statuses = [r["status"] for r in log]
    assert len(statuses) == 100 and statuses.count(429) == 0, statuses.count(429)


@pytest.mark.e2e
def test_without_the_throttle_the_same_burst_is_rate_limited(
    limited_sandbox: StripeSandbox, tmp_path: Path
) -> None:
    """The control for the test above: the sandbox's limit does bite such a burst."""
    log = burst(limited_sandbox, f"sqlite:///{tmp_path / 'queue.db'}", max_rps=0)
    statuses = [r["status"] for r in log]
    assert statuses.count(200) == 100  # our back-off still got every call through
    assert statuses.count(429) > 0


def _queue_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_endpoint_pace_keeps_a_two_process_burst_on_one_endpoint_under_its_limit(
    limited_sandbox: StripeSandbox, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A live key: the account may send 100/s (our pace 80/s) but one endpoint only 25/s. The
    per-endpoint pace, shared by both processes, keeps the burst under it. (15/s, not the
    product's 20/s, for the same headroom as the account test above.)"""
    queue_url = _queue_url(backend, tmp_path, request)
    log = burst(
        limited_sandbox, queue_url, 20, mode="live", calls=40,
        stripe_max_rps_live="80", stripe_max_rps_per_endpoint="15",
    )  # fmt: skip
    statuses = [r["status"] for r in log]
    assert len(statuses) == 40 and statuses.count(429) == 0, statuses.count(429)


@pytest.mark.e2e
def test_without_the_endpoint_pace_the_same_burst_is_rate_limited(
    limited_sandbox: StripeSandbox, tmp_path: Path
) -> None:
    """The control for the test above: the account's pace alone lets one endpoint's limit
    bite."""
    log = burst(
        limited_sandbox, f"sqlite:///{tmp_path / 'queue.db'}", 20, mode="live", calls=40,
        stripe_max_rps_live="80", stripe_max_rps_per_endpoint="0",
        stripe_backoff_max_seconds="0.5",
    )  # fmt: skip
    statuses = [r["status"] for r in log]
    assert statuses.count(200) == 40  # our back-off still got every call through
    assert statuses.count(429) > 0


def test_endpoint_of_names_the_operation_as_stripe_counts_it() -> None:
    endpoint_of = stripe_client.endpoint_of
    base = "https://api.stripe.com"
    assert endpoint_of("post", f"{base}/v1/invoices/in_1QxYz2/add_lines") == (
        "POST /v1/invoices/{id}/add_lines"
    )
    # Different ids, one endpoint; the query string is not part of it.
    assert endpoint_of("get", f"{base}/v1/products/prod_A1?expand[]=default_price") == (
        endpoint_of("get", "http://127.0.0.1:12111/v1/products/prod_Zz9")
    )
    assert endpoint_of("get", f"{base}/v1/account") == "GET /v1/account"
    assert endpoint_of("get", f"{base}/v1/checkout/sessions/cs_test_a1B2/line_items") == (
        "GET /v1/checkout/sessions/{id}/line_items"
    )
    assert endpoint_of("get", f"{base}/v1/customers/cus_9/balance_transactions/cbtxn_1") == (
        "GET /v1/customers/{id}/balance_transactions/{id}"
    )
    assert endpoint_of("get", f"{base}/v1/products") != endpoint_of("post", f"{base}/v1/products")


# ---- idempotency -----------------------------------------------------------------------------


def test_idempotency_keys_pass_through(on_sandbox: StripeSandbox) -> None:
    key, our_id = new_key(), uuid.uuid4()
    oc = org_stripe(key)
    idem = idempotency_key("catalog-item-create", our_id)
    assert idem == f"regentra:catalog-item-create:{our_id}"

    def create(c: Any) -> Any:
        return c.v1.products.create(
            params={"name": "Managed backup"}, options={"idempotency_key": idem}
        )

    first = oc.call(create, op="products.create")
    again = oc.call(create, op="products.create")
    assert first.id == again.id
    posts = [r for r in requests_log(on_sandbox, key) if r["method"] == "POST"]
    assert [r["idempotency_key"] for r in posts] == [idem, idem]
    names = [p["name"] for p in oc.iterate(list_products, op="products.list")]
    assert names == ["Managed backup"]


# ---- the org's client from its stored key ----------------------------------------------------


@pytest.fixture(scope="module")
def app_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path_factory.mktemp('client-db') / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_for_org_reads_the_stored_key(app_db: Session, on_sandbox: StripeSandbox) -> None:
    org, _ = orgs_service.create_org(
        app_db,
        name=f"Client MSP {uuid.uuid4().hex[:6]}",
        admin_email=f"admin-{uuid.uuid4().hex[:8]}@example.com",
        admin_password="correct-horse-battery",
    )
    app_db.commit()
    with pytest.raises(Conflict) as missing:
        for_org(app_db, org.id)
    assert missing.value.message == NOT_CONNECTED and missing.value.status == 409
    key = new_key()
    secrets.put(app_db, org_id=org.id, purpose="stripe_secret_key", value=key)
    app_db.commit()
    oc = for_org(app_db, org.id)
    assert oc.org_id == org.id and oc.mode == "test"
    assert key not in repr(oc)
    assert oc.retrieve_account()["object"] == "account"
    assert isinstance(missing.value, RegentraError)


def test_only_the_client_module_imports_stripe() -> None:
    offenders = []
    for path in (ROOT / "regentra").rglob("*.py"):
        if "sandbox" in path.parts:
            continue  # the emulator checks requests against the SDK's own types
        text = path.read_text()
        if (
            any(
                line.strip().startswith(("import stripe", "from stripe"))
                for line in text.splitlines()
            )
            and path.name != "client.py"
        ):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
    assert json.dumps(stripe_client.API_VERSION) and stripe.api_version == stripe_client.API_VERSION


# ---- webhook signatures ----------------------------------------------------------------------


def signed(payload: bytes, secret: str, at: int | None = None) -> str:
    at = at or int(time.time())
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def test_construct_event_verifies_with_the_sdk() -> None:
    secret = "whsec_" + uuid.uuid4().hex
    body = json.dumps({"id": "evt_1", "object": "event", "type": "invoice.paid",
                       "livemode": False, "data": {"object": {"id": "in_1"}}}).encode()  # fmt: skip
    event = stripe_client.construct_event(body, signed(body, secret), secret)
    assert event["id"] == "evt_1" and event["data"]["object"]["id"] == "in_1"
    # Rotation: any v1 signature may match.
    both = signed(body, "whsec_old") + "," + signed(body, secret).split(",")[1]
    assert stripe_client.construct_event(body, both, secret)["type"] == "invoice.paid"
    cases = {
        "does not match": signed(body, "whsec_other"),
        "too old": signed(body, secret, at=int(time.time()) - 600),
        "malformed": "garbage",
    }
    for expected, header in cases.items():
        with pytest.raises(RegentraError) as failed:
            stripe_client.construct_event(body, header, secret)
        assert failed.value.status == 400 and expected in failed.value.message
        assert_no_secret(failed.value.message, secret)
    with pytest.raises(RegentraError, match="not a Stripe event"):
        stripe_client.construct_event(b"[1]", signed(b"[1]", secret), secret)
    with pytest.raises(RegentraError, match="not a Stripe event"):
        stripe_client.construct_event(b"{nope", signed(b"{nope", secret), secret)


def test_the_pace_follows_the_keys_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stripe allows 25 requests/s in test mode and 100 in live mode: the per-org pace is
    20/s for test keys and 80/s for live ones, each configurable."""
    monkeypatch.setenv("REGENTRA_STRIPE_MAX_RPS", "20")
    monkeypatch.setenv("REGENTRA_STRIPE_MAX_RPS_LIVE", "80")
    get_settings.cache_clear()
    try:
        test = OrgStripe(org_id=uuid.uuid4(), secret_key="sk_test_" + "a" * 24)
        live = OrgStripe(org_id=uuid.uuid4(), secret_key="rk_live_" + "b" * 24)
        assert (test.mode, test._rate) == ("test", 20)
        assert (live.mode, live._rate) == ("live", 80)
        # Stripe allows each endpoint 25/s in either mode.
        assert test._endpoint_rate == live._endpoint_rate == 20
    finally:
        get_settings.cache_clear()
