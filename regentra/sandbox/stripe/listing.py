"""Stripe list objects: newest first, limit 1..100, starting_after / ending_before."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from regentra.sandbox.stripe.errors import StripeError


def _created_filter(spec: Any) -> Callable[[int], bool]:
    if isinstance(spec, int):
        return lambda c: c == spec
    bounds = spec or {}

    def ok(c: int) -> bool:
        return (
            ("gt" not in bounds or c > bounds["gt"])
            and ("gte" not in bounds or c >= bounds["gte"])
            and ("lt" not in bounds or c < bounds["lt"])
            and ("lte" not in bounds or c <= bounds["lte"])
        )

    return ok


def matching(
    items: list[dict[str, Any]], params: dict[str, Any], names: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The items whose fields equal the list call's filters among `names` (e.g. `charge`)."""
    for name in names:
        if name in params:
            items = [i for i in items if i.get(name) == params[name]]
    return items


def page(
    items: Iterable[dict[str, Any]],
    params: dict[str, Any],
    url: str,
    *,
    kind: str = "object",
) -> dict[str, Any]:
    """`items` newest first. Applies `created`, then the cursor and limit."""
    limit = params.get("limit", 10)
    if not 1 <= limit <= 100:
        raise StripeError(
            "Invalid limit: must be between 1 and 100",
            code="parameter_invalid_integer",
            param="limit",
        )
    data = list(items)
    if "created" in params:
        ok = _created_filter(params["created"])
        data = [o for o in data if ok(o.get("created", 0))]
    ids = [o["id"] for o in data]
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise StripeError(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="starting_after",
        )
    if after:
        if after not in ids:
            raise StripeError(
                f"No such {kind}: '{after}'",
                status=404,
                code="resource_missing",
                param="starting_after",
            )
        rest = data[ids.index(after) + 1 :]
        chunk, has_more = rest[:limit], len(rest) > limit
    elif before:
        if before not in ids:
            raise StripeError(
                f"No such {kind}: '{before}'",
                status=404,
                code="resource_missing",
                param="ending_before",
            )
        newer = data[: ids.index(before)]
        chunk, has_more = newer[-limit:], len(newer) > limit
    else:
        chunk, has_more = data[:limit], len(data) > limit
    return {"object": "list", "data": chunk, "has_more": has_more, "url": url}
