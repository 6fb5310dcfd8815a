"""Checks on a webhook delivery that the SDK does not make, each answering with the reason
for the org's Stripe card (the caller only ever sees a generic message), or None:

- `text_problem`: the body is UTF-8 (the SDK decodes it before verifying and would fail
  with an exception of its own) and its JSON nests at most `MAX_DEPTH` levels (Python's
  parser recurses, and a deep enough body is a `RecursionError`); checked on the raw text,
  before anything parses it.
- `timestamp_problem`: the signature's timestamp is not further in the future than the
  tolerance (the SDK only refuses old ones).
- `event_problem`: the event's `livemode` is a JSON boolean.
"""

from __future__ import annotations

import re
import time
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64

NOT_UTF8 = "the body is not UTF-8 text (Stripe sends UTF-8 JSON)"
TOO_DEEP = f"the body's JSON nests deeper than {MAX_DEPTH} levels (no Stripe event does)"
FROM_THE_FUTURE = (
    "the signature's timestamp is more than {tolerance} seconds in the future: check this "
    "server's clock"
)
LIVEMODE = "the event's livemode is not true or false (every Stripe event has one)"

_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (brackets inside strings do not
    count); linear in the text, with no recursion."""
    brackets = _BRACKETS.findall(_STRINGS.sub("", text))
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def text_problem(payload: bytes | str) -> str | None:
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            return NOT_UTF8
    # Every opening bracket counted (in strings too) bounds the depth: most events have far
    # fewer than MAX_DEPTH, and counting is much cheaper than `depth`.
    if payload.count("{") + payload.count("[") > MAX_DEPTH and depth(payload) > MAX_DEPTH:
        return TOO_DEEP
    return None


def timestamp_problem(signature: str, tolerance: int, *, now: float | None = None) -> str | None:
    """For a header the SDK has verified (so it has a `t=` with an integer)."""
    stamps = [p[2:] for p in signature.split(",") if p.startswith("t=")]
    try:
        at = int(stamps[0])
    except (IndexError, ValueError):
        return None  # not reached after the SDK's verification
    if at > (time.time() if now is None else now) + tolerance:
        return FROM_THE_FUTURE.format(tolerance=tolerance)
    return None


def event_problem(event: dict[str, Any]) -> str | None:
    if not isinstance(event.get("livemode"), bool):
        return LIVEMODE
    return None
