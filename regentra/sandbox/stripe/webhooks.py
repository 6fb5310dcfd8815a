"""Webhook delivery to the account's endpoints, signed and retried like Stripe's.

Endpoints (delivery targets) live in `Account.webhook_targets`, so they are saved with the
account: those added through `POST /_sandbox/webhooks` (the Dashboard's "Add endpoint") and
those created through `POST /v1/webhook_endpoints` alike. A listener on `Sandbox.listeners`
queues every event for each matching endpoint; worker threads POST it, signed with the
endpoint's secret (`Stripe-Signature: t=…,v1=HMAC-SHA256("{t}.{body}")`), and retry on a
non-2xx answer or a timeout with exponential backoff, recording every attempt in
`Account.deliveries`. The delivery faults in `Sandbox.faults` apply: `drop` (an attempt is
silently not sent, then retried), `duplicate` (the event is delivered twice), `reorder` (the
event is held back and sent after the next one), `delay_ms` (added before every attempt).

Locking: the listener runs under `Sandbox.lock` and then takes the scheduler's condition; the
workers take `Sandbox.lock` only to read or record state, never while sending, and never
while holding the condition. Attempts to one endpoint go out one at a time, in order.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import logging
import random
import threading
import time
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any, get_args
from urllib.parse import urlsplit

import httpx

from regentra.sandbox.stripe import versions
from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

log = logging.getLogger(__name__)

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
MAX_ENDPOINTS = 16  # Stripe's limit of webhook endpoints per account and mode
MAX_RECORDED = 10_000  # delivery attempts kept per account (oldest dropped first)
WORKERS = 4

# Delivery faults in `Sandbox.faults` (the API faults are read by the app).
DELIVERY_FAULTS = ("drop", "duplicate", "reorder", "delay_ms")


@dataclass
class Settings:
    """Sandbox-wide delivery settings (`/_sandbox/webhooks/settings`)."""

    retry_base_s: float = 0.5  # attempt n+1 waits retry_base_s * 2**(n-1)
    max_attempts: int = 6
    timeout_s: float = 10.0
    hold_s: float = 2.0  # `reorder`: longest an event waits for the next one

    def to_json(self) -> dict[str, Any]:
        return {
            "object": "sandbox.webhook_settings",
            "retry_base_ms": round(self.retry_base_s * 1000),
            "max_attempts": self.max_attempts,
            "timeout_ms": round(self.timeout_s * 1000),
            "reorder_hold_ms": round(self.hold_s * 1000),
            "scope": "sandbox",
        }


# ---- endpoints ------------------------------------------------------------------------------


@cache
def event_types() -> frozenset[str]:
    """Every value `enabled_events[]` accepts, from the installed SDK ('*' included)."""
    from regentra.sandbox.stripe.contract import fields_of, params_class

    hint, _ = fields_of(params_class("WebhookEndpointCreateParams"))["enabled_events"]
    (item,) = get_args(hint)
    return frozenset(get_args(item))


@cache
def api_versions() -> frozenset[str]:
    """Every API version an endpoint may be pinned to, from the installed SDK."""
    from regentra.sandbox.stripe.contract import fields_of, params_class

    hint, _ = fields_of(params_class("WebhookEndpointCreateParams"))["api_version"]
    return frozenset(get_args(hint))


def check_url(url: Any, param: str = "url") -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise StripeError(
            f"Invalid URL: {url!r}. An endpoint URL must be an absolute http or https URL.",
            code="url_invalid",
            param=param,
        )
    return str(url)


def new_secret() -> str:
    return "whsec_" + random_token(32)


def add_endpoint(
    sandbox: Sandbox,
    account: Account,
    *,
    url: str,
    enabled_events: list[str],
    api_version: str | None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    source: str,
) -> dict[str, Any]:
    """Register a delivery target (call under the lock); returns the stored target."""
    if len(account.webhook_targets) >= MAX_ENDPOINTS:
        raise StripeError(
            f"You have reached the maximum of {MAX_ENDPOINTS} webhook endpoints "
            f"for this account. Delete one before adding another.",
            param="url",
        )
    target = {
        "id": sandbox.new_id("webhook_endpoint"),
        "created": sandbox.now(),
        "url": url,
        "secret": new_secret(),
        "api_version": api_version,
        "enabled_events": list(enabled_events),
        "description": description,
        "metadata": dict(metadata or {}),
        "status": "enabled",
        "source": source,
    }
    account.webhook_targets.append(target)
    return target


def find_endpoint(account: Account, endpoint_id: str) -> dict[str, Any] | None:
    return next((t for t in account.webhook_targets if t["id"] == endpoint_id), None)


def remove_endpoint(sandbox: Sandbox, account: Account, endpoint_id: str) -> bool:
    target = find_endpoint(account, endpoint_id)
    if target is None:
        return False
    account.webhook_targets.remove(target)
    engine(sandbox).discard(account, endpoint_id)
    return True


def public_endpoint(
    account: Account, target: dict[str, Any], *, with_secret: bool = False
) -> dict[str, Any]:
    """The target as Stripe's WebhookEndpoint object (the secret only on create)."""
    obj = {
        "id": target["id"],
        "object": "webhook_endpoint",
        "api_version": target.get("api_version"),
        "application": None,
        "created": target["created"],
        "description": target.get("description"),
        "enabled_events": list(target["enabled_events"]),
        "livemode": account.livemode,
        "metadata": dict(target.get("metadata") or {}),
        "status": target.get("status", "enabled"),
        "url": target["url"],
    }
    if with_secret:
        obj["secret"] = target["secret"]
    return obj


def matches(target: dict[str, Any], event_type: str) -> bool:
    if target.get("status", "enabled") != "enabled":
        return False
    enabled = target.get("enabled_events") or ["*"]
    return "*" in enabled or event_type in enabled


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header, computed exactly as Stripe does."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


# ---- the delivery engine --------------------------------------------------------------------


@dataclass
class Job:
    account: Account
    target_id: str
    event_id: str
    event_type: str
    due: float
    seq: int
    attempt: int = 1
    duplicate: bool = False
    held: bool = False
    reordered: bool = False
    body: str | None = None

    @property
    def key(self) -> tuple[int, str]:
        return (id(self.account), self.target_id)


class Delivery:
    """Queues events per endpoint and delivers them from a few worker threads."""

    def __init__(self, sandbox: Sandbox, settings: Settings | None = None) -> None:
        self.sandbox = sandbox
        self.settings = settings or Settings()
        self.cv = threading.Condition()
        self.pending: list[Job] = []
        self.busy: set[tuple[int, str]] = set()
        self.seq = itertools.count()
        self.stopping = False
        self.threads: list[threading.Thread] = []
        self.http: httpx.Client | None = None
        self.rng = random.Random()  # noqa: S311 - fault injection, not cryptography

    # -- lifecycle --
    def start(self, workers: int = WORKERS) -> None:
        if self.threads:
            return
        self.http = httpx.Client(follow_redirects=False)
        with self.sandbox.lock:
            if self.on_event not in self.sandbox.listeners:
                self.sandbox.listeners.append(self.on_event)
        for n in range(workers):
            thread = threading.Thread(
                target=self._work, name=f"stripe-sandbox-webhooks-{n}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        with self.sandbox.lock:
            if self.on_event in self.sandbox.listeners:
                self.sandbox.listeners.remove(self.on_event)
        with self.cv:
            self.stopping = True
            self.cv.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.threads = []
        if self.http is not None:
            self.http.close()
            self.http = None

    # -- queueing (the listener runs under Sandbox.lock, inside Sandbox.emit) --
    def on_event(self, account: Account, event: dict[str, Any]) -> None:
        targets = [t for t in account.webhook_targets if matches(t, event["type"])]
        event["pending_webhooks"] = len(targets)
        if not targets:
            return
        faults = self.sandbox.faults
        now = time.monotonic()
        due = now + faults.get("delay_ms", 0) / 1000
        with self.cv:
            for target in targets:
                job = Job(account, target["id"], event["id"], event["type"], due, next(self.seq))
                held = next(
                    (j for j in self.pending if j.held and j.key == job.key and not j.duplicate),
                    None,
                )
                self.pending.append(job)
                if held is not None:
                    # The held-back event goes out right after this one.
                    held.held, held.due, held.seq = False, due, next(self.seq)
                elif self.rng.random() < faults.get("reorder", 0):
                    job.held = job.reordered = True
                    job.due = due + self.settings.hold_s
                if self.rng.random() < faults.get("duplicate", 0):
                    self.pending.append(
                        Job(
                            account,
                            target["id"],
                            event["id"],
                            event["type"],
                            due,
                            next(self.seq),
                            duplicate=True,
                        )
                    )
            self.cv.notify_all()

    def outstanding(self, account: Account) -> int:
        """Deliveries of `account` queued (due, held back, or waiting to retry) or in flight:
        0 means every event so far has had its last attempt."""
        with self.cv:
            queued = sum(1 for j in self.pending if j.account is account)
            return queued + sum(1 for key in self.busy if key[0] == id(account))

    def discard(self, account: Account, target_id: str | None = None) -> None:
        """Forget queued deliveries of an account (or of one of its endpoints)."""
        with self.cv:
            self.pending = [
                j
                for j in self.pending
                if not (j.account is account and target_id in (None, j.target_id))
            ]

    # -- the workers --
    def _next(self) -> tuple[Job | None, float | None]:
        """The next job due whose endpoint is free, or how long to wait."""
        now = time.monotonic()
        best: Job | None = None
        wait: float | None = None
        for job in self.pending:
            if job.key in self.busy:
                continue
            if job.due <= now:
                if best is None or (job.due, job.seq) < (best.due, best.seq):
                    best = job
            else:
                wait = job.due - now if wait is None else min(wait, job.due - now)
        return best, wait

    def _work(self) -> None:
        while True:
            with self.cv:
                job: Job | None = None
                while not self.stopping:
                    job, wait = self._next()
                    if job is not None:
                        break
                    self.cv.wait(min(wait, 1.0) if wait is not None else 1.0)
                if self.stopping or job is None:
                    return
                self.pending.remove(job)
                self.busy.add(job.key)
                job.held = False
            try:
                self._attempt(job)
            except Exception:
                log.exception("webhook delivery of %s failed", job.event_id)
            finally:
                with self.cv:
                    self.busy.discard(job.key)
                    self.cv.notify_all()

    def _payload(self, account: Account, event: dict[str, Any], api_version: str | None) -> str:
        data = copy.deepcopy(event)
        if api_version:
            try:
                data = versions.shape_event(self.sandbox, account, data, api_version)
            except Exception:
                log.exception("shaping %s for %s failed", event["id"], api_version)
                data = copy.deepcopy(event)
            data["api_version"] = api_version  # the endpoint's version, as Stripe labels it
        return json.dumps(data, indent=2)  # Stripe sends pretty-printed JSON

    def _attempt(self, job: Job) -> None:
        sandbox = self.sandbox
        with sandbox.lock:
            account = sandbox.accounts.get(job.account.key)
            target = find_endpoint(account, job.target_id) if account is job.account else None
            if account is None or target is None or not matches(target, job.event_type):
                return  # the endpoint was deleted or disabled, or the account reset
            if job.body is None:
                event = account.objects.get(job.event_id)
                if event is None:
                    return
                job.body = self._payload(account, event, target.get("api_version"))
            url, secret, body = str(target["url"]), str(target["secret"]), job.body
            faults = dict(sandbox.faults)
        settings = self.settings
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        if self.rng.random() < faults.get("drop", 0):
            outcome, error = "dropped", "dropped (injected fault): the attempt was not sent"
        else:
            outcome, status, error = self._send(url, body, secret, settings.timeout_s)
        duration_ms = round((time.monotonic() - started) * 1000)
        retry = outcome != "delivered" and job.attempt < settings.max_attempts
        backoff = settings.retry_base_s * 2 ** (job.attempt - 1)
        with sandbox.lock:
            if sandbox.accounts.get(account.key) is not account:
                return
            account.deliveries.append(
                {
                    "id": "whatt_" + random_token(),
                    "object": "sandbox.delivery_attempt",
                    "event": job.event_id,
                    "type": job.event_type,
                    "target": job.target_id,
                    "url": url,
                    "attempt": job.attempt,
                    "duplicate": job.duplicate,
                    "reordered": job.reordered,
                    "outcome": outcome,
                    "status_code": status,
                    "error": error,
                    "duration_ms": duration_ms,
                    "next_attempt_in_ms": round(backoff * 1000) if retry else None,
                    "created": sandbox.now(),
                    "sent_at": time.time(),
                }
            )
            del account.deliveries[:-MAX_RECORDED]
            if outcome == "delivered" and not job.duplicate:
                event = account.objects.get(job.event_id)
                if event is not None and event.get("pending_webhooks", 0) > 0:
                    event["pending_webhooks"] -= 1
            delay = sandbox.faults.get("delay_ms", 0) / 1000
        if retry:
            with self.cv:
                job.attempt += 1
                job.due = time.monotonic() + backoff + delay
                job.seq = next(self.seq)
                self.pending.append(job)
                self.cv.notify_all()

    def _send(
        self, url: str, body: str, secret: str, timeout: float
    ) -> tuple[str, int | None, str | None]:
        http = self.http
        if http is None:
            return "failed", None, "the sandbox is shutting down"
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
            "Stripe-Signature": sign(body, secret, int(time.time())),
        }
        try:
            response = http.post(url, content=body.encode(), headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return "failed", None, f"timed out after {timeout:g} s"
        except httpx.HTTPError as exc:
            return "failed", None, f"{type(exc).__name__}: {exc}"
        ok = 200 <= response.status_code < 300
        return ("delivered" if ok else "failed"), response.status_code, None


_ENGINES: weakref.WeakKeyDictionary[Sandbox, Delivery] = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()


def engine(sandbox: Sandbox) -> Delivery:
    """The sandbox's delivery engine (created, not started, on first use)."""
    with _ENGINES_LOCK:
        found = _ENGINES.get(sandbox)
        if found is None:
            found = _ENGINES[sandbox] = Delivery(sandbox)
        return found


def start(sandbox: Sandbox) -> None:
    with _ENGINES_LOCK:
        current = _ENGINES.get(sandbox)
        if current is not None and current.stopping:
            # Restarted (e.g. a second lifespan): keep the settings, start afresh.
            current = _ENGINES[sandbox] = Delivery(sandbox, current.settings)
    engine(sandbox).start()


def stop(sandbox: Sandbox) -> None:
    with _ENGINES_LOCK:
        current = _ENGINES.get(sandbox)
    if current is not None:
        current.stop()
