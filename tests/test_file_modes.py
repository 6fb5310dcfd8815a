"""The SQLite database and queue files (and their -wal/-shm files) are created 0600: they
hold the orgs' data and encrypted secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from regentra import queue
from regentra.db import make_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_database_and_queue_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'app.db'}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        huey = queue.make_huey(f"sqlite:///{tmp_path / 'q' / 'queue.db'}")
        assert huey.storage.queue_size() == 0  # the file is open
    finally:
        os.umask(old)
    files = sorted((tmp_path / "new").iterdir()) + sorted((tmp_path / "q").iterdir())
    names = {p.name for p in files}
    assert {"app.db", "app.db-wal", "app.db-shm", "queue.db"} <= names, names
    assert {p.name: oct(_mode(p)) for p in files} == {p.name: "0o600" for p in files}
    engine.dispose()
