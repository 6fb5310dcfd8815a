"""The subset of QuickBooks' query language Regentra needs:

    select * | count(*) from Entity [where cond and cond …] [orderby Field [asc|desc]]
    [startposition N] [maxresults N]

Conditions: `Field = 'x'`, `<`, `>`, `<=`, `>=`, `!=`, `Field in ('a', 'b')`, `Field like
'ab%'`; fields may be dotted (`MetaData.LastUpdatedTime`, `CustomerRef`: a reference compares
its `value`). No `or` (QuickBooks has none). startposition is 1-based, maxresults ≤ 1000.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from regentra.sandbox.quickbooks.errors import QboFault

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
_TOKEN = re.compile(r"\s*(?:('(?:[^'\\]|\\.)*')|(<=|>=|!=|=|<|>|\(|\)|,|\*)|([\w.]+))", re.S)


def parse_error(detail: str) -> QboFault:
    return QboFault("Error parsing query", f"QueryParserError: {detail}", "4000")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if not found or found.end() == pos:
            raise parse_error(f"Encountered unexpected text at {text[pos : pos + 20]!r}")
        out.append(next(g for g in found.groups() if g is not None))
        pos = found.end()
    return out


def _whole(toks: list[str], i: int) -> bool:
    """An ASCII whole number of at most nine digits at toks[i] (isdigit() also takes "²")."""
    return i < len(toks) and re.fullmatch(r"[0-9]{1,9}", toks[i]) is not None


def _value(tok: str) -> Any:
    if tok.startswith("'"):
        return tok[1:-1].replace("\\'", "'")
    if tok.lower() in ("true", "false"):
        return tok.lower() == "true"
    return tok


def _field(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        match = next((k for k in value if k.lower() == part.lower()), None)
        value = value.get(match) if match else None
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return value


_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _as_time(value: Any) -> datetime | None:
    """A timestamp such as 2026-12-02T10:12:42-08:00 as an aware datetime (no offset: UTC,
    docs silent), so times in different offsets compare as the instants they are."""
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    left: Any
    right: Any
    when, then = _as_time(actual), _as_time(expected)
    if op != "like" and when is not None and then is not None:
        left, right = when, then
    elif isinstance(actual, bool) or isinstance(expected, bool):
        left, right = str(actual).lower(), str(expected).lower()
    elif isinstance(actual, int | float):
        try:
            left, right = float(actual), float(expected)
        except ValueError:
            return False
    else:
        left, right = str(actual), str(expected)
    if op == "like":
        pattern = "^" + ".*".join(re.escape(p) for p in str(right).split("%")) + "$"
        return re.match(pattern, str(left), re.I) is not None
    if op == "=":
        return bool(left == right if not isinstance(left, str) else left.lower() == right.lower())
    if op == "!=":
        return bool(left != right)
    return bool(
        {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    )


def run(
    text: str, objects: dict[str, dict[str, dict[str, Any]]], known: set[str]
) -> dict[str, Any]:
    toks = _tokens(text)
    low = [t.lower() for t in toks]
    if len(toks) < 4 or low[0] != "select":
        raise parse_error("a query starts with select")
    i = 1
    count = False
    if low[i] == "*":
        i += 1
    elif low[i : i + 4] == ["count", "(", "*", ")"]:
        count, i = True, i + 4
    else:
        raise parse_error("select * or count(*) only (the sandbox's subset)")
    if i + 1 >= len(toks) or low[i] != "from":
        raise parse_error("expected from")
    entity = next((k for k in known if k.lower() == low[i + 1]), None)
    if entity is None:
        raise parse_error(f"Invalid entity name {toks[i + 1]!r}")
    i += 2
    conds: list[tuple[str, str, Any]] = []
    order: tuple[str, bool] | None = None
    start, limit = 1, DEFAULT_RESULTS
    if i < len(toks) and low[i] == "where":
        i += 1
        while True:
            if i + 2 > len(toks):
                raise parse_error("incomplete condition")
            field, op = toks[i], low[i + 1]
            if op == "in":
                if i + 2 >= len(toks) or toks[i + 2] != "(":
                    raise parse_error("expected ( after in")
                values, i = [], i + 3
                while i < len(toks) and toks[i] != ")":
                    if toks[i] != ",":
                        values.append(_value(toks[i]))
                    i += 1
                if i >= len(toks):
                    raise parse_error("expected ) to close in (…)")
                conds.append((field, "in", values))
                i += 1
            elif op in ("=", "!=", "<", ">", "<=", ">=", "like"):
                if i + 2 >= len(toks):
                    raise parse_error("missing value")
                conds.append((field, op, _value(toks[i + 2])))
                i += 3
            else:
                raise parse_error(f"unsupported operator {toks[i + 1]!r}")
            if i < len(toks) and low[i] == "and":
                i += 1
                continue
            if i < len(toks) and low[i] == "or":
                raise parse_error("OR is not supported")
            break
    while i < len(toks):
        if low[i] in ("orderby", "order"):
            i += 2 if low[i] == "order" and i + 1 < len(toks) and low[i + 1] == "by" else 1
            if i >= len(toks):
                raise parse_error("expected a field after orderby")
            desc = i + 1 < len(toks) and low[i + 1] == "desc"
            order = (toks[i], desc)
            i += 2 if i + 1 < len(toks) and low[i + 1] in ("asc", "desc") else 1
        elif low[i] == "startposition" and _whole(toks, i + 1):
            start, i = int(toks[i + 1]), i + 2
        elif low[i] == "maxresults" and _whole(toks, i + 1):
            limit, i = int(toks[i + 1]), i + 2
        else:
            raise parse_error(f"Encountered {toks[i]!r}")
    if start < 1:
        raise parse_error("startposition starts at 1")
    if not 0 < limit <= MAX_RESULTS:
        raise parse_error(f"maxresults must be between 1 and {MAX_RESULTS}")
    rows = [
        obj
        for obj in objects.get(entity, {}).values()
        if all(
            any(_compare(_field(obj, f), "=", v) for v in val)
            if op == "in"
            else _compare(_field(obj, f), op, val)
            for f, op, val in conds
        )
    ]
    if count:
        return {"totalCount": len(rows)}
    if order:
        rows.sort(key=lambda o: str(_field(o, order[0]) or ""), reverse=order[1])
    else:
        rows.sort(key=lambda o: int(o["Id"]) if str(o["Id"]).isdigit() else 0)
    page = rows[start - 1 : start - 1 + limit]
    if not page:
        return {}
    return {entity: page, "startPosition": start, "maxResults": len(page)}
