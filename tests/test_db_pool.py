"""`regentra.db` on PostgreSQL: a pooled connection is pinged before use only when it sat idle
(a ping on every check-out cost round trips on every request: `bench/webhooks.py`), and an
idle one that died meanwhile is replaced before anyone uses it."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

import regentra.db
from regentra.db import make_engine


def test_only_an_idle_connection_is_pinged_and_a_dead_one_is_replaced(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = request.getfixturevalue("postgres_server")
    url = server.create_database(f"regentra_pool_{uuid.uuid4().hex[:8]}")
    engine = make_engine(url)
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        with engine.connect() as conn:
            backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with engine.connect() as conn:  # the same connection, just checked in: no ping
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == backend
        assert pings == []

        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        monkeypatch.setattr(regentra.db, "PING_AFTER_IDLE_SECONDS", 0.0)  # now it sat idle
        with engine.connect() as conn:  # pinged, found dead, replaced: the caller sees none of it
            replaced = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert replaced != backend
        assert pings
    finally:
        engine.dispose()
