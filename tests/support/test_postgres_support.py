"""Self-test for tests/support/postgres.py: it must really start PostgreSQL (never skips)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from . import postgres
from .postgres import find_pg_bin, start_postgres

pytestmark = [pytest.mark.e2e]


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test_find_pg_bin_finds_initdb_and_pg_ctl() -> None:
    bin_dir = find_pg_bin()
    assert bin_dir is not None, postgres.NOT_FOUND_MESSAGE
    assert (bin_dir / "initdb").exists()
    assert (bin_dir / "pg_ctl").exists()


def test_server_round_trip_and_stop() -> None:
    server = start_postgres()
    root_dir = server.root_dir
    try:
        assert server.url == f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
        assert _accepts_connections(server.port)

        url = server.create_database("support_selftest")
        assert url == f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/support_selftest"

        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                version = conn.execute(sa.text("select version()")).scalar_one()
                assert version.startswith("PostgreSQL ")
                assert conn.execute(sa.text("select current_database()")).scalar_one() == (
                    "support_selftest"
                )
                conn.execute(sa.text("create table widget (id serial primary key, name text)"))
                conn.execute(sa.text("insert into widget (name) values (:n)"), {"n": "grüße"})
            with engine.connect() as conn:
                rows = conn.execute(sa.text("select id, name from widget")).all()
                assert [tuple(r) for r in rows] == [(1, "grüße")]
                encoding = conn.execute(sa.text("show server_encoding")).scalar_one()
                assert encoding == "UTF8"
        finally:
            engine.dispose()
    finally:
        server.stop()

    assert not _accepts_connections(server.port)
    assert not root_dir.exists()
    server.stop()  # idempotent


def test_context_manager_and_base_dir(tmp_path: Path) -> None:
    # pytest's tmp_path sits under a 0700 directory: the server user must still get in.
    with start_postgres(base_dir=tmp_path / "pg") as server:
        port = server.port
        assert server.root_dir.parent == (tmp_path / "pg").resolve()
        engine = sa.create_engine(server.url)
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("select 1")).scalar_one() == 1
        finally:
            engine.dispose()
    assert not _accepts_connections(port)
    assert not server.root_dir.exists()


def test_missing_binaries_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_pg_bin", lambda: None)
    with pytest.raises(RuntimeError, match="PostgreSQL server binaries not found"):
        postgres.start_postgres()


def test_start_failure_reports_server_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Hold a port and make every start attempt use it: pg_ctl must fail, and the error
    # must carry the tail of the server log; nothing may be left behind.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setattr(postgres, "_free_port", lambda: port)
        # A base directory of its own: other test processes start servers meanwhile.
        with pytest.raises(RuntimeError, match="could not start PostgreSQL") as excinfo:
            postgres.start_postgres(base_dir=tmp_path)
    assert "Address already in use" in str(excinfo.value)
    assert list(tmp_path.glob("regentra-pg-*")) == []
