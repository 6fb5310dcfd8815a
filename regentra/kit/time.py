"""Time helpers: everything stored is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from pydantic import PlainSerializer, WithJsonSchema


def _isoformat(value: datetime) -> str:
    return value.isoformat()


# A datetime in API JSON exactly as `datetime.isoformat()` writes it: "+00:00" and all six
# digits of microseconds when there are any (pydantic alone would write "Z").
IsoDatetime = Annotated[
    datetime,
    PlainSerializer(_isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_in(zone: str, now: datetime | None = None) -> date:
    """Today's date in the time zone `zone` (an org's): what "today" means to its people."""
    return (now or utcnow()).astimezone(ZoneInfo(zone)).date()


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime (as SQLite returns them) as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA time zone names this machine knows, sorted (read from disk once)."""
    return tuple(sorted(available_timezones()))
