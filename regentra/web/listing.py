"""Lists on pages: sort, direction, filters and pages read from the query string, checked
against each list's allow-list, then applied to an org-scoped select.

One `ListSpec` per list names the columns it may be sorted by (each a SQL expression), its
default order (newest first) and the filters it takes. `parse` reads `?sort=&dir=&cursor=`
and the filters: an unknown sort column or direction falls back to the default with a
notice; a filter that cannot be read (a date like "yesterday", a client id that is not one)
or a stale page link gives `error` and a 422, never a 500. `page` orders by the chosen
expression then the id, and pages by keyset over (expression, id): the cursor carries the
last row's value, so "Older →" keeps working under any sort and filters. Totals are taken
over the whole filtered select (`count`, `sums_by_currency`, `minutes_and_amounts`), not the
page.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, TypeDecorator, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from regentra.errors import Invalid
from regentra.kit.money import amount_for
from regentra.kit.pagination import DEFAULT_LIMIT, Page, check_limit
from regentra.kit.time import as_utc
from regentra.models import Client
from regentra.web.forms import FormMessage

Direction = Literal["asc", "desc"]
FilterKind = Literal["id", "date", "choice", "text", "flag"]

Expr = ColumnElement[Any] | InstrumentedAttribute[Any]

STALE_CURSOR = "This page link is out of date: start again from the first page."


@dataclass(frozen=True)
class SortColumn:
    """A column the list may be sorted by: `expr` is what the database orders by."""

    key: str
    label: str
    expr: Expr
    first_dir: Direction = "asc"  # the direction of a first click on the header
    nullable: bool = False  # empty values sort last in either direction


@dataclass(frozen=True)
class Filter:
    """A filter of the list's GET form: `name` is its query parameter."""

    name: str
    label: str
    kind: FilterKind
    choices: tuple[str, ...] = ()
    default: str = ""
    max_length: int = 100


@dataclass(frozen=True)
class ListSpec:
    path: str
    columns: tuple[SortColumn, ...]
    default_sort: str
    default_dir: Direction = "desc"
    filters: tuple[Filter, ...] = ()

    def column(self, key: str) -> SortColumn | None:
        return next((c for c in self.columns if c.key == key), None)

    def filter(self, name: str) -> Filter | None:
        return next((f for f in self.filters if f.name == name), None)


@dataclass
class Listing:
    """What the query string asked for, checked: used by the view and its template."""

    spec: ListSpec
    sort: str
    dir: Direction
    raw: dict[str, str]  # the filters as typed (for the form and links), bad ones dropped
    values: dict[str, Any]  # the filters parsed: uuid.UUID, date, str or bool
    cursor: str | None = None
    notices: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> int:
        return 422 if self.error else 200

    @property
    def is_default_order(self) -> bool:
        return self.sort == self.spec.default_sort and self.dir == self.spec.default_dir

    @property
    def filtered(self) -> bool:
        """Whether any filter differs from its default (for a Reset link)."""
        return any(
            value != (f.default if (f := self.spec.filter(name)) else "")
            for name, value in self.raw.items()
        )

    def value(self, name: str) -> Any:
        return self.values.get(name)

    def params(self, **changes: str | None) -> dict[str, str]:
        """The query parameters of this view of the list, with `changes` (None removes)."""
        query: dict[str, str] = {k: v for k, v in self.raw.items() if v}
        if not self.is_default_order:
            query.update(sort=self.sort, dir=self.dir)
        for key, change in changes.items():
            if change is None:
                query.pop(key, None)
            else:
                query[key] = change
        return query

    def url(self, **changes: str | None) -> str:
        query = self.params(**changes)
        return self.spec.path + ("?" + urlencode(query) if query else "")

    def next_url(self, cursor: str | None) -> str | None:
        return self.url(cursor=cursor) if cursor else None

    def first_url(self) -> str:
        return self.url()

    def sort_url(self, key: str) -> str:
        """The header link: the same column again flips the direction; another column starts
        in its natural direction. The page starts again from the first."""
        column = self.spec.column(key)
        if column is None:
            return self.url()
        if key == self.sort:
            direction: Direction = "asc" if self.dir == "desc" else "desc"
        else:
            direction = column.first_dir
        return self.spec.path + "?" + urlencode({**self.params(), "sort": key, "dir": direction})

    def aria_sort(self, key: str) -> str | None:
        if key != self.sort:
            return None
        return "ascending" if self.dir == "asc" else "descending"

    def hidden_order(self) -> dict[str, str]:
        """sort/dir as hidden fields of the filter form, so filtering keeps the order."""
        return {} if self.is_default_order else {"sort": self.sort, "dir": self.dir}


def _read_filter(spec: Filter, raw: str) -> Any:
    if spec.kind == "id":
        try:
            return uuid.UUID(raw)
        except ValueError as exc:
            raise Invalid(f"Choose a {spec.label.lower()} from the list.") from exc
    if spec.kind == "date":
        try:
            day = date.fromisoformat(raw)
        except ValueError as exc:
            raise Invalid(f"{spec.label} must be a date like 2024-05-31.") from exc
        if not 1900 <= day.year <= 9998:
            raise Invalid(f"{spec.label} must be a date in the years 1900 to 9998.")
        return day
    if spec.kind == "flag":
        return raw.lower() in ("1", "on", "true", "yes")
    return raw


def parse(spec: ListSpec, query: Mapping[str, str]) -> Listing:
    """The list's sort, direction, filters and cursor from a query string (never raises)."""
    notices: list[str] = []
    error: str | None = None
    sort = (query.get("sort") or "").strip()
    direction = (query.get("dir") or "").strip().lower()
    if sort and spec.column(sort) is None:
        known = ", ".join(c.key for c in spec.columns)
        notices.append(
            f"The list cannot be sorted by “{sort[:40]}” (choose one of: {known}); "
            "showing the default order."
        )
        sort, direction = "", ""
    if direction and direction not in ("asc", "desc"):
        notices.append(
            f"Sort direction “{direction[:10]}” is not asc or desc; showing the default order."
        )
        sort, direction = "", ""
    if not sort:
        sort = spec.default_sort
        column = spec.column(sort)
        chosen: Direction = spec.default_dir if not direction else _direction(direction)
        if column is None:  # a spec error, caught by tests
            raise ValueError(f"default sort {sort} is not a column of {spec.path}")
    else:
        column = spec.column(sort)
        assert column is not None
        chosen = _direction(direction) if direction else column.first_dir
    raw: dict[str, str] = {}
    values: dict[str, Any] = {}
    for item in spec.filters:
        typed = (query.get(item.name) or "").strip()[: item.max_length]
        if not typed:
            raw[item.name] = item.default
            values[item.name] = _read_filter(item, item.default) if item.default else None
            continue
        if item.kind == "choice" and typed not in item.choices:
            notices.append(
                f"{item.label} “{typed[:40]}” is not one of: {', '.join(item.choices)}; "
                "showing all."
            )
            raw[item.name] = item.default
            values[item.name] = item.default or None
            continue
        try:
            values[item.name] = _read_filter(item, typed)
            raw[item.name] = ("1" if values[item.name] else "") if item.kind == "flag" else typed
        except Invalid as exc:  # the form's field: app.js focuses it
            error = error or FormMessage(exc.message, item.name, item.label)
            raw[item.name] = ""
            values[item.name] = None
    date_from, date_to = values.get("date_from"), values.get("date_to")
    if isinstance(date_from, date) and isinstance(date_to, date) and date_from > date_to:
        said = "The From date must not be after the To date."
        error = error or FormMessage(said, "date_from", "From")
    cursor = (query.get("cursor") or "").strip() or None
    return Listing(spec, sort, chosen, raw, values, cursor, notices, error)


def _direction(value: str) -> Direction:
    return "asc" if value == "asc" else "desc"


def day_bounds(listing: Listing, tz: str) -> tuple[datetime | None, datetime | None]:
    """The date_from/date_to filters as instants in the org's time zone: [start of the first
    day, start of the day after the last)."""
    since, until = listing.value("date_from"), listing.value("date_to")
    start = datetime.combine(since, time.min, tzinfo=ZoneInfo(tz)) if since else None
    end = (
        datetime.combine(until + timedelta(days=1), time.min, tzinfo=ZoneInfo(tz))
        if until
        else None
    )
    return start, end


def lower(expr: Expr) -> ColumnElement[str]:
    """`expr` in lower case, for sorting text the same way on SQLite and PostgreSQL (typed
    as text, so a page link's value is checked as one)."""
    return func.lower(expr, type_=String())


def client_name(model: Any) -> ColumnElement[str]:
    """The lower-cased name of the client of `model`'s row (a model with `client_id` and
    `org_id`), to sort a list by client."""
    return (
        select(lower(Client.name))
        .where(Client.id == model.client_id, Client.org_id == model.org_id)
        .scalar_subquery()
    )


def python_type(expr: Expr) -> type:
    """The Python type of the values `expr` gives (object when the type cannot say)."""
    kind = expr.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    try:
        return kind.python_type
    except NotImplementedError:
        return object


def contains(expr: Expr, text: str) -> ColumnElement[bool]:
    """`expr` contains `text`, ignoring case, the same on SQLite and PostgreSQL (lower() on
    both sides; %, _ and backslash in `text` match themselves)."""
    literal = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(expr).like(f"%{literal}%", escape="\\")


# ---- cursors -----------------------------------------------------------------------------


def _encode_value(value: Any) -> list[Any]:
    if value is None:
        return ["n", None]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, datetime):
        return ["t", as_utc(value).isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    return ["s", str(value)]


def _decode_value(tag: str, value: Any) -> Any:
    if tag == "n":
        return None
    if tag == "b" and isinstance(value, bool):
        return value
    if tag == "i" and isinstance(value, int):
        return value
    if tag == "t" and isinstance(value, str):
        return as_utc(datetime.fromisoformat(value))
    if tag == "d" and isinstance(value, str):
        return date.fromisoformat(value)
    if tag == "u" and isinstance(value, str):
        return uuid.UUID(value)
    if tag == "s" and isinstance(value, str):
        return value
    raise ValueError("unknown value")


def encode_cursor(listing: Listing, value: Any, last_id: uuid.UUID) -> str:
    body = json.dumps([listing.sort, listing.dir, _encode_value(value), last_id.hex])
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_cursor(listing: Listing, cursor: str) -> tuple[Any, uuid.UUID]:
    """The last row's sort value and id; a cursor of another order or a mangled one is a
    clear 422 (sorting or filtering again starts from the first page)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort, direction, (tag, value), last_id = json.loads(raw)
        if sort != listing.sort or direction != listing.dir:
            raise Invalid(STALE_CURSOR)
        decoded = _decode_value(tag, value)
        column = listing.spec.column(listing.sort)
        if decoded is not None and column is not None:
            # A tampered cursor whose value is not of the column's type (an int for a date)
            # would reach the database as a type error: refuse it here, in words.
            expected = python_type(column.expr)
            if not isinstance(decoded, expected) or (
                expected is date and isinstance(decoded, datetime)
            ):
                raise Invalid(STALE_CURSOR)
        return decoded, uuid.UUID(hex=last_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise Invalid(STALE_CURSOR) from exc


def _after(
    expr: Expr,
    id_column: InstrumentedAttribute[uuid.UUID],
    direction: Direction,
    value: Any,
    last_id: uuid.UUID,
    nullable: bool,
) -> ColumnElement[bool]:
    """Rows after (value, last_id) in the order (expr IS NULL, expr dir, id dir)."""

    def beyond(a: Any, b: Any) -> ColumnElement[bool]:
        return a > b if direction == "asc" else a < b  # type: ignore[no-any-return]

    if value is None:  # in the empty tail: only the tail's rows past the id
        return and_(expr.is_(None), beyond(id_column, last_id))
    later = or_(beyond(expr, value), and_(expr == value, beyond(id_column, last_id)))
    return or_(later, expr.is_(None)) if nullable else later


def page(
    session: Session,
    stmt: Select[Any],
    listing: Listing,
    id_column: InstrumentedAttribute[uuid.UUID],
    *,
    limit: int | None = DEFAULT_LIMIT,
) -> Page[Any]:
    """One page of `stmt` (a select of one entity) in the listing's order."""
    size = check_limit(limit)
    column = listing.spec.column(listing.sort)
    assert column is not None
    expr = column.expr
    if listing.cursor:
        value, last_id = decode_cursor(listing, listing.cursor)
        stmt = stmt.where(_after(expr, id_column, listing.dir, value, last_id, column.nullable))
    order: list[Any] = []
    if column.nullable:
        order.append(expr.is_(None))
    if listing.dir == "asc":
        order += [expr.asc(), id_column.asc()]
    else:
        order += [expr.desc(), id_column.desc()]
    rows = session.execute(stmt.add_columns(expr).order_by(*order).limit(size + 1)).all()
    items = [row[0] for row in rows[:size]]
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = encode_cursor(listing, last[1], getattr(last[0], id_column.key))
    return Page(items=items, next_cursor=next_cursor)


# ---- totals over the whole filtered select -------------------------------------------------


def count(session: Session, stmt: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def sums_by_currency(
    session: Session, stmt: Select[Any], amount: str, currency: str = "currency"
) -> dict[str, int]:
    """Σ of the column named `amount` per currency, over every row `stmt` selects."""
    sub = stmt.subquery()
    rows = session.execute(
        select(sub.c[currency], func.sum(sub.c[amount]))
        .group_by(sub.c[currency])
        .order_by(sub.c[currency])
    ).all()
    return {str(cur): int(total or 0) for cur, total in rows}


@dataclass(frozen=True)
class TimeTotals:
    count: int
    minutes: int
    amounts: dict[str, int]  # billable amount per currency, exact per entry


def minutes_and_amounts(session: Session, stmt: Select[Any]) -> TimeTotals:
    """Totals of time entries `stmt` selects: how many, their minutes, and the billable
    amount per currency, each entry's amount rounded as on its row (grouped by rate and
    minutes so it stays one query however many entries)."""
    sub = stmt.subquery()
    rows = session.execute(
        select(
            sub.c.billable, sub.c.currency, sub.c.hourly_rate, sub.c.minutes, func.count()
        ).group_by(sub.c.billable, sub.c.currency, sub.c.hourly_rate, sub.c.minutes)
    ).all()
    entries = minutes = 0
    amounts: dict[str, int] = {}
    for billable, currency, rate, mins, many in rows:
        entries += int(many)
        minutes += int(mins) * int(many)
        if billable:
            each = amount_for(int(rate), int(mins), currency)
            amounts[currency] = amounts.get(currency, 0) + each * int(many)
    return TimeTotals(entries, minutes, dict(sorted(amounts.items())))
