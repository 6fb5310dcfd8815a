"""The sandbox's state: one account per secret key, objects stored in Stripe's JSON shape.

All access goes through `Sandbox.lock` (an RLock): request handlers and webhook delivery
threads share it, so the sandbox is thread-safe. With a state file, the whole state is
written (atomically) after every change, so the demo keeps its objects across restarts.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regentra.sandbox.files import write_state
from regentra.sandbox.stripe.errors import StripeError, missing

_ALPHABET = string.ascii_letters + string.digits

# Object type (Stripe's `object` field) → id prefix.
PREFIXES = {
    "product": "prod",
    "price": "price",
    "customer": "cus",
    "invoiceitem": "ii",
    "invoice": "in",
    "invoice_payment": "inpay",
    "payment_intent": "pi",
    "charge": "ch",
    "balance_transaction": "txn",
    "event": "evt",
    "subscription": "sub",
    "subscription_item": "si",
    "checkout.session": "cs",
    "webhook_endpoint": "we",
    "payment_method": "pm",
    "billing.meter": "mtr",
    "billing_portal.configuration": "bpc",
    "billing_portal.session": "bps",
    "refund": "re",
    "dispute": "du",
    "payout": "po",
}
KIND_BY_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}
# `expand` paths may be this many levels deep at most.
MAX_EXPAND_DEPTH = 4
# Names Stripe uses in "No such ..." messages.
NOUNS = {"invoiceitem": "invoiceitem", "checkout.session": "checkout.session"}

Listener = Callable[["Account", dict[str, Any]], None]


# An invoice as Stripe answers it embeds "the total count of line items and the first handful
# of those items" (docs.stripe.com/api/invoices/invoice_lines); the rest are read from
# GET /v1/invoices/{id}/lines, whose default page is 10: the handful the sandbox embeds.
EMBEDDED_LINES = 10


def served(obj: Any) -> Any:
    """`obj` as an API answer or an event carries it: an invoice (or a list of invoices) with
    its first `EMBEDDED_LINES` lines, `has_more` and `total_count`. The stored object keeps
    every line; this returns a shallow copy when it cuts any."""
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("object")
    if kind == "invoice":
        lines = obj.get("lines")
        if isinstance(lines, dict) and isinstance(lines.get("data"), list):
            data = lines["data"]
            cut = {**lines, "total_count": len(data), "has_more": len(data) > EMBEDDED_LINES}
            cut["data"] = data[:EMBEDDED_LINES]
            return {**obj, "lines": cut}
    elif (
        kind == "list"
        and isinstance(obj.get("data"), list)
        and any(isinstance(o, dict) and o.get("object") == "invoice" for o in obj["data"])
    ):
        return {**obj, "data": [served(o) for o in obj["data"]]}
    return obj


def random_token(n: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


@dataclass
class Account:
    key: str
    id: str
    livemode: bool
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: dict[str, list[str]] = field(default_factory=dict)
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_targets: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=deque)
    # The account's settings (the Dashboard's): its country, settlement currency and the
    # payment methods activated for invoices; and its restricted keys (key → permissions).
    country: str = "US"
    default_currency: str = "usd"
    payment_methods: list[str] = field(default_factory=lambda: ["card", "us_bank_account"])
    # The Dashboard's time zone: the hosted invoice page and PDF show dates in it.
    timezone: str = "UTC"
    restricted_keys: dict[str, dict[str, str]] = field(default_factory=dict)

    def next_number(self, name: str) -> int:
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.counters[name]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "id": self.id,
            "livemode": self.livemode,
            "objects": self.objects,
            "order": self.order,
            "idempotency": self.idempotency,
            "webhook_targets": self.webhook_targets,
            "counters": self.counters,
            **self.settings_json(),
        }

    def settings_json(self) -> dict[str, Any]:
        """What survives a reset: the account's settings and restricted keys."""
        return {
            "country": self.country,
            "default_currency": self.default_currency,
            "payment_methods": list(self.payment_methods),
            "timezone": self.timezone,
            "restricted_keys": copy.deepcopy(self.restricted_keys),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        return cls(
            key=data["key"],
            id=data["id"],
            livemode=data["livemode"],
            objects=data["objects"],
            order=data["order"],
            idempotency=data.get("idempotency", {}),
            webhook_targets=data.get("webhook_targets", []),
            counters=data.get("counters", {}),
            country=data.get("country", "US"),
            default_currency=data.get("default_currency", "usd"),
            payment_methods=data.get("payment_methods", ["card", "us_bank_account"]),
            timezone=data.get("timezone", "UTC"),
            restricted_keys=data.get("restricted_keys", {}),
        )


class Sandbox:
    """Everything the emulator knows; one instance per running server."""

    def __init__(
        self,
        *,
        state_file: Path | None = None,
        rate_limit: int = 25,
        live_rate_limit: int = 100,
        endpoint_rate_limit: int = 25,
    ) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        # Restricted key → the secret key of the account it acts on (rebuilt on load).
        self.aliases: dict[str, str] = {}
        self.clock_offset = 0.0
        # Requests per second (limits.py): per account in test mode (0 turns every limit
        # off), per account in live mode, and per endpoint of an account in either mode.
        self.rate_limit = rate_limit
        self.live_rate_limit = live_rate_limit
        self.endpoint_rate_limit = endpoint_rate_limit
        self.faults: dict[str, float] = {}
        # Quantity updates per subscription id, their sandbox times (an hour's worth).
        self.quantity_updates: dict[str, list[float]] = {}
        self.state_file = state_file
        self.listeners: list[Listener] = []
        self.includables: dict[str, dict[str, Callable[[Account, dict[str, Any]], Any]]] = {}
        # Called (under the lock) after the clock moves: subscription renewals hook in here.
        self.clock_hooks: list[Callable[[Sandbox], None]] = []
        self.base_url = "http://127.0.0.1:12111"
        if state_file and state_file.exists():
            self._load(state_file)

    # ---- time ---------------------------------------------------------------------------
    def now(self) -> int:
        return int(time.time() + self.clock_offset)

    # ---- accounts -----------------------------------------------------------------------
    def account(self, key: str) -> Account:
        """The account of a secret key (made on first use), or of a restricted key (the
        account of the secret key that made it)."""
        with self.lock:
            key = self.aliases.get(key, key)
            account = self.accounts.get(key)
            if account is None:
                account = Account(key=key, id="acct_" + random_token(16), livemode="_live_" in key)
                self.accounts[key] = account
            return account

    # ---- objects ------------------------------------------------------------------------
    def new_id(self, kind: str) -> str:
        return f"{PREFIXES[kind]}_{random_token()}"

    def add(self, account: Account, obj: dict[str, Any]) -> dict[str, Any]:
        kind = obj["object"]
        obj.setdefault("id", self.new_id(kind))
        obj.setdefault("livemode", account.livemode)
        account.objects[obj["id"]] = obj
        account.order.setdefault(kind, []).append(obj["id"])
        return obj

    def remove(self, account: Account, object_id: str) -> None:
        obj = account.objects.pop(object_id, None)
        if obj is not None:
            ids = account.order.get(obj["object"], [])
            if object_id in ids:
                ids.remove(object_id)

    def find(self, account: Account, kind: str, object_id: str) -> dict[str, Any] | None:
        obj = account.objects.get(object_id)
        if obj is None or obj.get("object") != kind:
            return None
        return obj

    def get(self, account: Account, kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
        obj = self.find(account, kind, object_id)
        if obj is None:
            raise missing(NOUNS.get(kind, kind.replace("_", " ")), object_id, param)
        return obj

    def all(self, account: Account, kind: str) -> list[dict[str, Any]]:
        """Objects of a kind, newest first."""
        return [account.objects[i] for i in reversed(account.order.get(kind, []))]

    # ---- events -------------------------------------------------------------------------
    def emit(
        self,
        account: Account,
        event_type: str,
        obj: dict[str, Any],
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"object": copy.deepcopy(served(obj))}
        if previous_attributes:
            data["previous_attributes"] = previous_attributes
        event = self.add(
            account,
            {
                "object": "event",
                "id": self.new_id("event"),
                "api_version": API_VERSION,
                "created": self.now(),
                "data": data,
                "livemode": account.livemode,
                "pending_webhooks": len(account.webhook_targets),
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            },
        )
        for listener in self.listeners:
            listener(account, event)
        return event

    # ---- expansion ----------------------------------------------------------------------
    @staticmethod
    def check_expand_depth(paths: list[str]) -> None:
        """Stripe refuses the whole request when an `expand` path is deeper than four levels,
        the `data` of a list counting as one (docs.stripe.com/api/expanding_objects)."""
        for path in paths:
            if len(path.split(".")) > MAX_EXPAND_DEPTH:
                raise StripeError(
                    f"You cannot expand more than 4 levels of a property. Property: {path}",
                    code="property_expansion_max_depth",
                )

    def expand(self, account: Account, obj: Any, paths: list[str]) -> Any:
        result = copy.deepcopy(obj)
        for path in paths:
            result = self._expand_path(account, result, path.split("."))
        return result

    def _expand_path(self, account: Account, obj: Any, parts: list[str]) -> Any:
        if not parts or not isinstance(obj, dict):
            return obj
        head, rest = parts[0], parts[1:]
        if obj.get("object") == "list" and head == "data":
            obj["data"] = [self._expand_path(account, item, rest) for item in obj["data"]]
            return obj
        include = self.includables.get(obj.get("object", ""), {}).get(head)
        if include is not None:
            obj[head] = include(account, obj)
        value = obj.get(head)
        if isinstance(value, str) and value in account.objects:
            value = copy.deepcopy(account.objects[value])
        elif value is None and head not in obj and include is None:
            raise StripeError(f"This property cannot be expanded ({head}).", param="expand")
        obj[head] = self._expand_path(account, value, rest) if rest else value
        return obj

    # ---- persistence --------------------------------------------------------------------
    def save(self) -> None:
        if not self.state_file:
            return
        with self.lock:
            data = {
                "clock_offset": self.clock_offset,
                "accounts": [a.to_json() for a in self.accounts.values()],
            }
            write_state(self.state_file, data)

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        self.clock_offset = data.get("clock_offset", 0.0)
        for raw in data.get("accounts", []):
            account = Account.from_json(raw)
            self.accounts[account.key] = account
            for restricted in account.restricted_keys:
                self.aliases[restricted] = account.key

    def reset(self, account: Account) -> None:
        with self.lock:
            fresh = Account.from_json(
                {
                    "key": account.key,
                    "id": account.id,
                    "livemode": account.livemode,
                    "objects": {},
                    "order": {},
                    **account.settings_json(),
                }
            )
            self.accounts[account.key] = fresh


def _pinned_version() -> str:
    import stripe

    return str(stripe.api_version)


API_VERSION = _pinned_version()
