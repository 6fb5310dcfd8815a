"""Stripe's wire format: form-encoded bodies with bracketed keys, into nested values.

`a[b][0][c]=1&expand[]=x&expand[]=y` → {"a": {"b": {"0": {"c": "1"}}}, "expand": ["x", "y"]}.
Numeric-keyed dicts become lists later, when the contract says the field is a list.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from regentra.sandbox.stripe.errors import StripeError

_PART = re.compile(r"\[([^\[\]]*)\]")


def _split(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    parts = [head]
    if rest:
        rest = "[" + rest
        consumed = "".join(f"[{p}]" for p in _PART.findall(rest))
        if consumed != rest:
            raise StripeError(f"Invalid parameter name: {key}", code="parameter_unknown", param=key)
        parts += _PART.findall(rest)
    return parts


def decode(body: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = _split(key)
        node: Any = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            if isinstance(node, list):
                if part != "":
                    raise StripeError(f"Invalid array parameter: {key}", param=key)
                if last:
                    node.append(value)
                    break
                child: Any = [] if nxt == "" else {}
                node.append(child)
                node = child
                continue
            if last:
                node[part] = value
                break
            if part not in node:
                node[part] = [] if nxt == "" else {}
            node = node[part]
            if not isinstance(node, dict | list):
                raise StripeError(f"Invalid parameter: {key}", param=key)
    return result
