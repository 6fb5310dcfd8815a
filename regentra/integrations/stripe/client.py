"""The only module that imports `stripe`: one `StripeClient` per org key.

Every client uses the SDK's pinned API version, the base URL `REGENTRA_STRIPE_API_BASE`
(Stripe's own by default; the sandbox in tests and the demo), a timeout, and
`max_network_retries` (the SDK retries connection errors, 409 and 5xx itself). On top:

- a per-org throttle by the key's mode, `REGENTRA_STRIPE_MAX_RPS` (20/s, under Stripe's 25 in
  test mode) and `REGENTRA_STRIPE_MAX_RPS_LIVE` (80/s, under its 100 in live mode), and a
  per-endpoint one beside it, `REGENTRA_STRIPE_MAX_RPS_PER_ENDPOINT` (20/s, under the 25 Stripe
  allows each endpoint in either mode; an endpoint is `METHOD /v1/path/{id}`, as Stripe counts
  it; an account rate of 0 turns both off), shared by every process through the queue's
  storage (`regentra.queue.Pacer`); each HTTP request the SDK makes, retries included, waits
  for a slot both allow, reserved in one round-trip;
- 429s (which the SDK does not retry) backed off exponentially with jitter, honouring
  `Retry-After` and `Stripe-Should-Retry`, a bounded number of times;
- Stripe errors turned into the `RegentraError`s of `errors.py`, which a person can act on.
  Outages and rate limits are `StripeUnavailable`, which is also `queue.Transient`, so a task
  retries them.

The secret key never appears in a message or a log line: errors are logged by type, status,
code and request id, and Stripe's own messages are scrubbed of anything key-like.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import stripe
import structlog
from sqlalchemy.orm import Session

from regentra import queue
from regentra.config import get_settings
from regentra.errors import RegentraError
from regentra.integrations.stripe import payload_checks
from regentra.integrations.stripe.errors import (
    StripeFailed,
    StripeIdempotencyConflict,
    StripeInvalidRequest,
    StripeKeyRejected,
    StripePermissionDenied,
    StripeRateLimited,
    StripeUnreachable,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from regentra.integrations.stripe.errors import StripeRejected as StripeRejected
from regentra.integrations.stripe.errors import StripeUnavailable as StripeUnavailable
from regentra.models import SecretPurpose
from regentra.orgs import secrets
from regentra.orgs.errors import StripeNotConnected

T = TypeVar("T")
log = structlog.get_logger(__name__)

API_VERSION: str = stripe.api_version
NOT_CONNECTED = (
    "Stripe is not connected: an admin can connect it in Settings → Integrations → Stripe"
)
KEY_REJECTED = "Stripe rejected the secret key"
UNREACHABLE = "Could not reach Stripe"
RATE_LIMITED = "Stripe is rate-limiting this account; try again shortly"

_KEYLIKE = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_\S*|\bwhsec_\S*", re.IGNORECASE)
_READ_ACTIONS = {"list", "retrieve", "search", "get", "read", "iterate"}


def idempotency_key(op: str, our_id: uuid.UUID | str) -> str:
    """Deterministic idempotency key for a create or state change: `regentra:<op>:<id>`."""
    return f"regentra:{op}:{our_id}"


def fingerprint(params: dict[str, Any]) -> str:
    """A short digest of a request's parameters: the same request always gets the same key,
    and a changed one (the draft was edited after a failed attempt) a new key, instead of
    Stripe's "same key, different parameters" refusal."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def request_options(key: str) -> dict[str, Any]:
    """The SDK's request options carrying an idempotency key."""
    return {"idempotency_key": key}


def post(c: Any, path: str, params: dict[str, Any] | None = None, key: str | None = None) -> Any:
    """POST `path` through the SDK's raw request (same encoding, retries, idempotency and
    errors as its services) for an answer read as plain JSON with `as_dict`: building
    StripeObjects of an invoice's lines and turning them back into dicts took more CPU than
    the rest of a send."""
    options = {} if key is None else request_options(key)
    return c.raw_request("post", path, **(params or {}), **options)


def get(c: Any, path: str, params: dict[str, Any] | None = None) -> Any:
    """GET `path` through the SDK's raw request, for an answer read with `as_dict` (see
    `post`)."""
    return c.raw_request("get", path, **(params or {}))


def as_dict(answer: Any) -> dict[str, Any] | None:
    """An SDK answer as a dict: a raw request's JSON, or a StripeObject's `to_dict()`."""
    if answer is None:
        return None
    if isinstance(answer, stripe.StripeResponse):
        return cast(dict[str, Any], answer.data)
    found: dict[str, Any] = answer.to_dict()
    return found


def redact(text: str) -> str:
    """`text` with anything that looks like a Stripe key or signing secret removed."""
    return _KEYLIKE.sub("[redacted]", text)


def key_mode(key: str) -> str | None:
    """ "test" or "live" from a key's prefix (`sk_test_…`, `rk_live_…`, `pk_test_…`)."""
    found = re.match(r"^(?:sk|rk|pk)_(test|live)_", key)
    return found.group(1) if found else None


_PATH_WORD = re.compile(r"^[a-z_]+$")


def endpoint_of(method: str, url: str) -> str:
    """The endpoint a request counts against in Stripe's per-endpoint limit: the method and
    the path with every id replaced, `POST /v1/invoices/{id}/add_lines`. Stripe's own path
    words are lower-case snake_case (every path in the SDK is); anything else in a path is an
    id (`in_1Q…`, `cus_…`)."""
    path = urlsplit(url).path
    start = max(path.find("/v1/"), path.find("/v2/"))
    segments = path[start:].strip("/").split("/") if start >= 0 else path.strip("/").split("/")
    words = [
        seg if index == 0 or _PATH_WORD.match(seg) else "{id}" for index, seg in enumerate(segments)
    ]
    return f"{method.upper()} /{'/'.join(words)}"


class _PacedHTTPClient(stripe.RequestsClient):
    """The SDK's requests-based client, waiting for the org's throttle slot (account and
    endpoint) before every request it sends (the SDK's own network retries included)."""

    def __init__(self, *, timeout: float, pace: Callable[[str, str], None]) -> None:
        super().__init__(timeout=timeout)
        self._pace = pace

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        self._pace(method, url)
        return super().request(method, url, headers, post_data)

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        self._pace(method, url)
        return super().request_stream(method, url, headers, post_data)


class OrgStripe:
    """Stripe for one org (one secret key)."""

    def __init__(self, *, org_id: uuid.UUID, secret_key: str) -> None:
        self.org_id = org_id
        self._secret_key = secret_key
        settings = get_settings()
        live = key_mode(secret_key) == "live"
        self._rate = settings.stripe_max_rps_live if live else settings.stripe_max_rps
        self._endpoint_rate = settings.stripe_max_rps_per_endpoint
        self._client = stripe.StripeClient(
            secret_key,
            stripe_version=API_VERSION,
            base_addresses={"api": settings.stripe_api_base.rstrip("/")},
            max_network_retries=settings.stripe_max_network_retries,
            http_client=_PacedHTTPClient(timeout=settings.stripe_timeout_seconds, pace=self._pace),
        )

    def __repr__(self) -> str:
        return f"OrgStripe(org_id={self.org_id}, mode={key_mode(self._secret_key)})"

    @property
    def mode(self) -> str | None:
        """ "test" or "live", from the key."""
        return key_mode(self._secret_key)

    def _pace(self, method: str, url: str) -> None:
        if self._rate <= 0:  # the throttle is off, the endpoint's with it
            return
        limits = [(f"stripe:{self.org_id}", self._rate)]
        # The account's pace already covers each of its endpoints when it is no faster.
        if 0 < self._endpoint_rate < self._rate:
            endpoint = endpoint_of(method, url)
            limits.append((f"stripe:{self.org_id}:{endpoint}", self._endpoint_rate))
        queue.pace_all(*limits)

    def call(self, fn: Callable[[Any], T], *, op: str) -> T:
        """Run `fn(stripe_client)` with the org's throttle, 429 back-off and error mapping.
        `op` names the operation for logs and messages (e.g. "products.list")."""
        settings = get_settings()
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn(self._client)
            except stripe.RateLimitError as exc:
                retry_after = _retry_after(exc)
                give_up = (
                    attempt > settings.stripe_rate_limit_retries
                    or _header(exc, "stripe-should-retry") == "false"
                    # Too long to wait inline: a task reschedules itself instead.
                    or (retry_after or 0) > settings.stripe_backoff_max_seconds
                )
                if give_up:
                    self._log_failure(exc, op)
                    raise StripeRateLimited(
                        RATE_LIMITED,
                        details=_details(exc),
                        retry_after=retry_after,
                    ) from None
                delay = retry_after if retry_after is not None else _backoff(attempt)
                log.info(
                    "stripe rate limit, backing off",
                    op=op,
                    org_id=str(self.org_id),
                    attempt=attempt,
                    delay=round(delay, 3),
                )
                time.sleep(delay)
            except stripe.StripeError as exc:
                self._log_failure(exc, op)
                raise _translate(exc, op=op, secret_key=self._secret_key) from None

    def find(self, fn: Callable[[Any], T], *, op: str) -> T | None:
        """Like `call`, but None when Stripe says the object does not exist (404
        `resource_missing`: deleted, or made in another Stripe account than the one
        connected)."""

        def missing_is_none(c: Any) -> T | None:
            try:
                return fn(c)
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404 and exc.code == "resource_missing":
                    return None
                raise

        return self.call(missing_is_none, op=op)

    def unless_code(self, fn: Callable[[Any], T], *, op: str, code: str) -> T | None:
        """Like `call`, but None when Stripe refuses the request with error `code` (e.g.
        `invoice_upcoming_none`: a subscription with no next invoice)."""

        def refused_is_none(c: Any) -> T | None:
            try:
                return fn(c)
            except stripe.InvalidRequestError as exc:
                if exc.code == code:
                    return None
                raise

        return self.call(refused_is_none, op=op)

    def iterate(self, list_fn: Callable[[Any], Any], *, op: str) -> Iterator[dict[str, Any]]:
        """Every object of a list call, across pages (each page fetched through `call`),
        as plain dicts: the JSON Stripe sent (decimals stay strings), which is cheaper than
        converting the SDK's objects back."""
        page = self.call(list_fn, op=op)
        while True:
            response = page.last_response
            raw = getattr(response, "data", None) if response is not None else None
            if isinstance(raw, dict) and isinstance(raw.get("data"), list):
                yield from raw["data"]
            else:
                for obj in page.data:
                    yield obj.to_dict()
            if not page.has_more or not page.data:
                return
            page = self.call(next_page_of(page), op=op)

    def pages(self, path: str, params: dict[str, Any], *, op: str) -> Iterator[dict[str, Any]]:
        """Every object of the list at GET `path` (`/v1/customers`), across pages by
        `starting_after`, as the JSON Stripe sent: `iterate` without the SDK's objects, for
        the lists a send reads every time."""

        def page_after(after: str | None) -> Callable[[Any], Any]:
            query = params if after is None else {**params, "starting_after": after}
            return lambda c: get(c, path, query)

        after: str | None = None
        while True:
            page = as_dict(self.call(page_after(after), op=op)) or {}
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            after = str(data[-1]["id"])

    def retrieve_account(self) -> dict[str, Any]:
        """GET /v1/account as a dict."""
        account = self.call(lambda c: c.v1.accounts.retrieve_current(), op="account.retrieve")
        found: dict[str, Any] = account.to_dict()
        return found

    def _log_failure(self, exc: stripe.StripeError, op: str) -> None:
        log.warning(
            "stripe call failed",
            op=op,
            org_id=str(self.org_id),
            error=type(exc).__name__,
            http_status=exc.http_status,
            stripe_code=exc.code,
            request_id=exc.request_id,
        )


def next_page_of(page: Any) -> Callable[[Any], Any]:
    """A `call`-able fetching the list page after `page`."""

    def fetch(_client: Any) -> Any:
        return page.next_page()

    return fetch


def check_secret_key(org_id: uuid.UUID, secret_key: str) -> dict[str, Any]:
    """Try a key that is not saved yet (Test Connection): the account as a dict, or the
    `RegentraError` Stripe's answer maps to."""
    return OrgStripe(org_id=org_id, secret_key=secret_key).retrieve_account()


# Names the platform's own Stripe account where an org id goes (throttle keys, logs).
PLATFORM_ACCOUNT = uuid.UUID(int=0)


def for_platform(secret_key: str) -> OrgStripe:
    """The platform's own Stripe account (billing each org for Regentra: integrations/platform),
    with the same throttle, back-off and error mapping as an org's."""
    return OrgStripe(org_id=PLATFORM_ACCOUNT, secret_key=secret_key)


def for_org(session: Session, org_id: uuid.UUID) -> OrgStripe:
    """The org's client from its stored (encrypted) secret key; `StripeNotConnected` (409)
    pointing to Settings → Integrations when Stripe is not connected."""
    secret_key = secrets.get(session, org_id=org_id, purpose=SecretPurpose.stripe_secret_key.value)
    if not secret_key:
        raise StripeNotConnected(NOT_CONNECTED)
    return OrgStripe(org_id=org_id, secret_key=secret_key)


# ---- webhooks -------------------------------------------------------------------------------

WEBHOOK_TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE  # 300 s


def construct_event(
    payload: bytes | str,
    signature: str,
    secret: str,
    *,
    tolerance: int = WEBHOOK_TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """Verify a webhook delivery's `Stripe-Signature` with the SDK (`WebhookSignature`, as
    `Webhook.construct_event` does; any `v1` signature may match, for secret rotation) and
    return the event as a plain dict. A delivery that fails
    is a `RegentraError` (400) saying what to check; never with the secret in it."""
    problem = payload_checks.text_problem(payload)
    if problem:
        raise WebhookPayloadInvalid(problem)
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        reason = _signature_problem(str(exc.user_message or exc))
        raise WebhookSignatureInvalid(f"signature verification failed: {reason}") from None
    problem = payload_checks.timestamp_problem(signature, tolerance) if tolerance else None
    if problem:
        raise WebhookSignatureInvalid(f"signature verification failed: {problem}")
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON
        event = None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
    ):
        raise WebhookPayloadInvalid(
            "the payload is not a Stripe event (JSON with an id and a type)"
        )
    problem = payload_checks.event_problem(event)
    if problem:
        raise WebhookPayloadInvalid(problem)
    return event


def _signature_problem(reason: str) -> str:
    if reason.startswith("Timestamp outside the tolerance zone"):
        return (
            "the signature is too old (over 5 minutes): check this server's clock, or the "
            "delivery is a replay"
        )
    if reason.startswith("No signatures found matching"):
        return (
            "the signature does not match: the signing secret saved for this org is not this "
            "endpoint's (copy it from the endpoint in the Stripe Dashboard → Webhooks)"
        )
    return "the Stripe-Signature header is malformed"


# ---- errors -----------------------------------------------------------------------------------


def _translate(exc: stripe.StripeError, *, op: str, secret_key: str) -> RegentraError:
    details = _details(exc)
    if isinstance(exc, stripe.AuthenticationError):
        if secret_key.startswith("pk_"):
            message = (
                f"{KEY_REJECTED}: that is the publishable key. Paste the secret key "
                "(Stripe Dashboard → Developers → API keys) or a restricted key instead."
            )
        else:
            message = (
                f"{KEY_REJECTED}: check that it was copied whole and has not been rolled or "
                "deleted (Stripe Dashboard → Developers → API keys)."
            )
        return StripeKeyRejected(message, details=details)
    if isinstance(exc, stripe.PermissionError):
        resource, access = _resource(op)
        who = "This restricted key" if secret_key.startswith("rk_") else "This Stripe key"
        message = (
            f"{who} lacks {access} access to {resource}: in the Stripe Dashboard "
            f"(Developers → API keys) give it {access.title()} permission on {resource}."
        )
        return StripePermissionDenied(message, details=details)
    if isinstance(exc, stripe.APIConnectionError):
        message = (
            f"{UNREACHABLE}: the connection failed or timed out. Try again in a minute; if it "
            "keeps failing, check this server's outbound network access."
        )
        return StripeUnreachable(message, details=details)
    if isinstance(exc, stripe.IdempotencyError):
        return StripeIdempotencyConflict(
            _stripe_message(exc, "Stripe refused a repeated request"), details=details
        )
    if isinstance(exc, stripe.InvalidRequestError | stripe.CardError):
        status = 409 if exc.code == "resource_already_exists" else 400
        refused = StripeInvalidRequest(
            _stripe_message(exc, "Stripe refused the request"), status, details=details
        )
        refused.param = exc.param if isinstance(exc.param, str) else None
        return refused
    return StripeFailed("Stripe had a problem answering; try again shortly.", details=details)


def _stripe_message(exc: stripe.StripeError, fallback: str) -> str:
    return redact(exc.user_message or "") or fallback


def _details(exc: stripe.StripeError) -> dict[str, Any]:
    return {"stripe_request_id": exc.request_id} if exc.request_id else {}


# The SDK's service names whose permission the Dashboard names otherwise: invoice items and
# invoice payments fall under Invoices (see integrations/stripe/permissions.py).
_DASHBOARD_NAMES = {
    "invoice_items": "Invoices",
    "invoiceitems": "Invoices",
    "invoice_payments": "Invoices",
    "payment_intents": "PaymentIntents",
    "accounts": "Account",
}


def _resource(op: str) -> tuple[str, str]:
    """("Products", "read") from "products.list"; ("Invoices", "write") from
    "invoices.create"."""
    noun, _, action = op.partition(".")
    resource = _DASHBOARD_NAMES.get(noun) or " ".join(
        word.capitalize() for word in noun.replace("-", "_").split("_")
    )
    verb = action.split(".")[0].split("_")[0]
    return resource or "this resource", "read" if verb in _READ_ACTIONS else "write"


def _header(exc: stripe.StripeError, name: str) -> str | None:
    for key, value in (exc.headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _retry_after(exc: stripe.StripeError) -> float | None:
    raw = _header(exc, "retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return None


def _backoff(attempt: int) -> float:
    """Exponential back-off with jitter for retry `attempt` (1-based)."""
    settings = get_settings()
    ceiling = min(
        settings.stripe_backoff_max_seconds,
        settings.stripe_backoff_base_seconds * 2.0 ** (attempt - 1),
    )
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not crypto)
