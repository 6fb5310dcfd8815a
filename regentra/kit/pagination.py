"""Keyset pagination over time-ordered ids: newest first, opaque cursors."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from regentra.errors import Invalid

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise Invalid("cursor is not valid: pass the next_cursor of a previous page") from exc


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def paginate(
    session: Session,
    stmt: Select[T],
    id_column: InstrumentedAttribute[uuid.UUID],
    *,
    limit: int | None,
    cursor: str | None,
) -> Page[T]:
    size = check_limit(limit)
    if cursor:
        stmt = stmt.where(id_column < decode_cursor(cursor))
    rows: Sequence[T] = session.scalars(stmt.order_by(id_column.desc()).limit(size + 1)).all()
    items = list(rows[:size])
    next_cursor = None
    if len(rows) > size:
        next_cursor = encode_cursor(getattr(items[-1], id_column.key))
    return Page(items=items, next_cursor=next_cursor)
