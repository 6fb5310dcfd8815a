"""A tiny router for the emulated API: each resource module registers its handlers here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from regentra.sandbox.stripe.state import Account, Sandbox


@dataclass
class Ctx:
    """What a handler gets: the sandbox, the caller's account, checked params, path ids."""

    sandbox: Sandbox
    account: Account
    params: dict[str, Any]
    path: dict[str, str]
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)

    def get(self, kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
        return self.sandbox.get(self.account, kind, object_id, param)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.sandbox.add(self.account, obj)

    def emit(
        self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self.sandbox.emit(self.account, event_type, obj, previous)

    def now(self) -> int:
        return self.sandbox.now()


Handler = Callable[[Ctx], Any]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    params: str | None
    handler: Handler
    control: bool
    # "/v1/invoices/{id}/send": the endpoint its rate limit counts (limits.py).
    template: str = ""


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self, method: str, template: str, params: str | None = None, *, control: bool = False
    ) -> Callable[[Handler], Handler]:
        """Register `handler` for `method template`; `params` names the SDK params class
        (e.g. "ProductCreateParams") the request is checked against."""
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, re.compile(regex), params, handler, control, template))
            return handler

        return register
