"""The one Huey instance: SqliteHuey under ./var by default, RedisHuey for redis:// URLs."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey

from regentra.config import VAR_DIR, get_settings


@lru_cache(maxsize=1)
def get_huey() -> Huey:
    url = get_settings().queue_url
    if url.startswith("redis://") or url.startswith("rediss://"):
        return RedisHuey("regentra", url=url)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if path is None:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path = str(VAR_DIR / "queue.db")
    return SqliteHuey("regentra", filename=path)


def enqueue_after_commit(session: Any, task: Any, *args: Any) -> None:
    """Enqueue `task(*args)` only once `session` commits, never for a rolled-back change."""
    from sqlalchemy import event

    def _send(_session: Any) -> None:
        task(*args)

    event.listen(session, "after_commit", _send, once=True)
