"""`regentra.db` on SQLite: a read (`read_scope`) takes no write lock, and the writers of one
process take turns on a lock of their own, each starting as soon as the one before commits
(SQLite's busy handler, by contrast, sleeps up to 100 ms between tries)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import sessionmaker

import regentra.db
from regentra.db import make_engine, read_scope


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'scopes.db'}")
    with made.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield made
    made.dispose()


def test_a_read_does_not_wait_for_a_writer(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regentra.db, "get_sessionmaker", lambda: sessionmaker(bind=engine))
    writer = engine.connect()
    writer.begin()
    writer.exec_driver_sql("INSERT INTO t VALUES (1)")  # holds the write lock, uncommitted
    try:
        done: list[int] = []
        reader = threading.Thread(target=lambda: done.append(_count()), daemon=True)
        reader.start()
        reader.join(timeout=2)
        assert done == [0]  # at once, and the snapshot before the writer's insert
    finally:
        writer.rollback()
        writer.close()


def _count() -> int:
    with read_scope() as connection:
        return int(connection.execute(text("SELECT count(*) FROM t")).scalar_one())


def _turn(engine: Engine) -> float:
    """A writer holds the lock 0.6 s (long enough for SQLite's busy handler to be sleeping
    100 ms steps) while another waits: how long after the first commit the second begins."""
    holding = threading.Event()
    committed_at: list[float] = []
    started_at: list[float] = []

    def first() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            holding.set()
            time.sleep(0.6)
        committed_at.append(time.perf_counter())

    def second() -> None:
        holding.wait()
        with engine.begin() as conn:
            started_at.append(time.perf_counter())
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert started_at and committed_at
    return started_at[0] - committed_at[0]


def test_a_waiting_writer_starts_as_soon_as_the_one_before_commits(engine: Engine) -> None:
    assert [_turn(engine) < 0.02 for _ in range(3)] == [True, True, True]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 6
