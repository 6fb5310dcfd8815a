"""Files Regentra creates that hold its data."""

from __future__ import annotations

import os
from pathlib import Path


def private_file(path: Path) -> None:
    """Create `path` (and its folder) readable and writable by this user only (0600) unless it
    exists. For the SQLite database and queue: SQLite creates their -wal and -shm files with
    the database file's permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
