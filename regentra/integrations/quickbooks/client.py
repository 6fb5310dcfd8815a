"""The only module that calls the QuickBooks Online accounting API: a thin httpx client.

Why not python-quickbooks (see `regentra/sandbox/quickbooks/README.md`): it sends with no
timeout, refuses `http://` without a process-wide switch, has no 429 handling and hides
Intuit's fault codes. Here every request:

- carries `minorversion=75` and, when it creates something, a `requestid` (at most 50
  characters, the same on every attempt: QuickBooks replays the first answer instead of
  creating twice);
- is paced per company (`REGENTRA_QBO_MAX_RPS`, shared by every process through the queue);
- on 401 refreshes the token once and is retried (`tokens.access(stale=…)`);
- on 429 waits `Retry-After` (or backs off) and on 5xx or a network failure backs off, up to
  `REGENTRA_QBO_RETRIES` times, then raises `QuickBooksUnavailable` (a task retries later);
- on a fault (400 and the like) raises `QuickBooksRejected` with Intuit's own words.

Answers are parsed with decimals, never floats.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import structlog

from regentra import queue
from regentra.config import get_settings
from regentra.integrations.quickbooks import oauth, tokens
from regentra.integrations.quickbooks.errors import (
    QuickBooksRejected,
    QuickBooksUnavailable,
)

log = structlog.get_logger(__name__)

MINOR_VERSION = "75"
MAX_REQUEST_ID = 50


def fault_message(body: Any) -> tuple[str, str | None, str | None]:
    """(message, code, element) from Intuit's `{"Fault": {"Error": [...]}}` body."""
    fault = body.get("Fault") if isinstance(body, dict) else None
    errors = fault.get("Error") if isinstance(fault, dict) else None
    if not isinstance(errors, list) or not errors:
        return ("QuickBooks refused the request", None, None)
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        text = str(error.get("Message") or "").strip()
        detail = str(error.get("Detail") or "").strip()
        if detail and detail != text:
            text = f"{text}: {detail}" if text else detail
        parts.append(text or "QuickBooks refused the request")
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = first.get("code")
    element = first.get("element")
    return (
        "; ".join(parts)[:900] or "QuickBooks refused the request",
        str(code) if code is not None else None,
        str(element) if element else None,
    )


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _backoff(attempt: int) -> float:
    settings = get_settings()
    ceiling = min(
        settings.qbo_backoff_max_seconds,
        settings.qbo_backoff_base_seconds * 2.0 ** (attempt - 1),
    )
    jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not crypto)
    return ceiling * jitter


class QuickBooks:
    """The accounting API for one org's connected company. Counts the requests it sends
    (`calls`, for benchmarks and tests). Use as a context manager, or call `close()`."""

    def __init__(
        self, org_id: uuid.UUID, *, timeout: float | None = None, retries: int | None = None
    ) -> None:
        """`timeout` and `retries` override the settings' (a page reading live choices
        gives up sooner than a task, which is retried later anyway)."""
        settings = get_settings()
        self.org_id = org_id
        self.calls = 0
        self._access: tokens.Access | None = None
        self._base = oauth.api_base(settings) + "/v3/company/"
        self._rate = settings.qbo_max_rps
        self._retries = settings.qbo_retries if retries is None else retries
        self._http = httpx.Client(
            timeout=settings.qbo_timeout_seconds if timeout is None else timeout
        )

    def __enter__(self) -> QuickBooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"QuickBooks(org_id={self.org_id})"

    @property
    def realm_id(self) -> str:
        return self._token().realm_id

    def _token(self, *, stale: tokens.Access | None = None) -> tokens.Access:
        if self._access is None or stale is not None:
            self._access = tokens.access(self.org_id, stale=stale)
        return self._access

    # ---- the entities -------------------------------------------------------------------

    def read(self, entity: str, qbo_id: str) -> dict[str, Any]:
        """`GET /{entity}/{id}` → the object."""
        answer = self.request("GET", f"{entity.lower()}/{qbo_id}")
        return dict(answer[entity])

    def create(self, entity: str, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
        """`POST /{entity}?requestid=…` → the object made (or the first answer, replayed)."""
        answer = self.request("POST", entity.lower(), body=body, request_id=request_id)
        return dict(answer[entity])

    def update(
        self,
        entity: str,
        body: dict[str, Any],
        *,
        request_id: str | None = None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        """`POST /{entity}[?operation=void|delete]` with `Id` and `SyncToken` in `body`."""
        params = {"operation": operation} if operation else None
        answer = self.request(
            "POST", entity.lower(), body=body, request_id=request_id, params=params
        )
        return dict(answer.get(entity) or {})

    def query(self, statement: str) -> list[dict[str, Any]]:
        """`GET /query?query=…` → the objects of the entity named after FROM (all pages,
        1000 at a time)."""
        entity = statement.split()[3] if statement.lower().startswith("select * from") else ""
        found: list[dict[str, Any]] = []
        start = 1
        while True:
            answer = self.request(
                "GET",
                "query",
                params={"query": f"{statement} STARTPOSITION {start} MAXRESULTS 1000"},
            )
            page = answer.get("QueryResponse", {}).get(entity, [])
            found.extend(page)
            if len(page) < 1000:
                return found
            start += 1000

    def company_info(self) -> dict[str, Any]:
        realm = self.realm_id
        return dict(self.request("GET", f"companyinfo/{realm}")["CompanyInfo"])

    def preferences(self) -> dict[str, Any]:
        return dict(self.request("GET", "preferences")["Preferences"])

    # ---- the wire -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        request_id: str | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One API request with pacing, token refresh, back-off and fault mapping."""
        if request_id is not None and not 0 < len(request_id) <= MAX_REQUEST_ID:
            raise ValueError(f"a requestid has 1 to {MAX_REQUEST_ID} characters")
        settings = get_settings()
        query = {"minorversion": MINOR_VERSION, **(params or {})}
        if request_id is not None:
            query["requestid"] = request_id
        content = json.dumps(body).encode() if body is not None else None
        # Retrying is safe for reads and for writes that carry a requestid.
        retry_safe = method == "GET" or request_id is not None or path == "query"
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            access = self._token()
            if self._rate > 0:
                queue.pace(f"quickbooks:{access.realm_id}", self._rate)
            self.calls += 1
            try:
                response = self._http.request(
                    method,
                    self._base + access.realm_id + "/" + path,
                    params=query,
                    content=content,
                    headers={
                        "Authorization": f"Bearer {access.token}",
                        "Accept": "application/json",
                        **({"Content-Type": "application/json"} if content else {}),
                    },
                )
            except httpx.HTTPError as exc:
                if retry_safe and attempt <= self._retries:
                    time.sleep(_backoff(attempt))
                    continue
                raise QuickBooksUnavailable(
                    f"QuickBooks could not be reached ({type(exc).__name__})"
                ) from None
            status = response.status_code
            if status == 401 and not refreshed:
                refreshed = True
                self._token(stale=access)
                continue
            if status == 429 or status >= 500:
                retry_after = _retry_after(response) if status == 429 else None
                too_long = (retry_after or 0) > settings.qbo_backoff_max_seconds
                if retry_safe and attempt <= self._retries and not too_long:
                    delay = retry_after if retry_after is not None else _backoff(attempt)
                    log.info(
                        "quickbooks busy, backing off",
                        status=status,
                        path=path.split("/")[0],
                        attempt=attempt,
                        delay=round(delay, 3),
                    )
                    time.sleep(delay)
                    continue
                what = "is rate-limiting" if status == 429 else f"failed (HTTP {status})"
                raise QuickBooksUnavailable(
                    f"QuickBooks {what}; it will be tried again", retry_after=retry_after
                )
            try:
                answer = json.loads(response.content or b"{}", parse_float=Decimal)
            except ValueError:
                answer = {}
            if status >= 400 or (isinstance(answer, dict) and "Fault" in answer):
                message, code, element = fault_message(answer)
                if status == 401:
                    raise QuickBooksUnavailable(
                        "QuickBooks refused the access token again after a refresh; it will be "
                        "tried again"
                    )
                raise QuickBooksRejected(
                    message, fault_code=code, element=element, http_status=status
                )
            if not isinstance(answer, dict):
                raise QuickBooksUnavailable("QuickBooks answered with something unreadable")
            return answer
