"""Engine and session scope. Services never commit; the request or job boundary does."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from regentra.config import get_settings
from regentra.kit.files import private_file

READ_ONLY = "regentra_read_only"  # execution option: `read_scope`, no transaction
WRITER_WAIT_SECONDS = 30.0  # as long as SQLite's busy timeout
PING_AFTER_IDLE_SECONDS = 5.0  # PostgreSQL: a pooled connection idle longer is pinged first
_IDLE_SINCE = "regentra.idle_since"
POSTGRES_POOL: dict[str, Any] = {"pool_size": 10, "max_overflow": 10}


class _SQLiteWriter:
    """One write transaction at a time per engine in this process, in turn.

    SQLite admits one writer; the others wait in its busy handler, which sleeps between
    tries (up to 100 ms each), so under concurrency the lock sits idle while waiters sleep
    and a transaction can wait seconds. Here the writers of one process queue on a lock
    instead, taken just before BEGIN IMMEDIATE and released just after COMMIT or ROLLBACK,
    and the next one starts at once. Other processes still meet in SQLite's busy handler. A
    thread already writing that begins a second write transaction, or a wait over
    `WRITER_WAIT_SECONDS`, falls back to SQLite's own waiting (as before this lock)."""

    KEY = "regentra.sqlite_writer"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def acquire(self, info: dict[Any, Any]) -> None:
        me = threading.get_ident()
        if self._owner != me and self._lock.acquire(timeout=WRITER_WAIT_SECONDS):
            self._owner = me
            info[self.KEY] = True

    def release(self, info: dict[Any, Any]) -> None:
        if info.pop(self.KEY, False):
            self._owner = None
            self._lock.release()


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions, and take the write lock at BEGIN so two
            # writers queue up instead of failing on a lock upgrade.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        writer = _SQLiteWriter()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY, False):
                return  # `read_scope`: autocommit, no transaction, no write lock
            # Straight on the driver's connection, as COMMIT and ROLLBACK below: SQLAlchemy's
            # statement machinery cost more than SQLite's BEGIN.
            driver = conn.connection.driver_connection
            writer.acquire(conn.info)
            try:
                driver.execute("BEGIN IMMEDIATE")
            except BaseException:
                writer.release(conn.info)
                raise

        # These run just before SQLAlchemy's own COMMIT / ROLLBACK: end the transaction here
        # (SQLAlchemy's then finds none open and does nothing), then let the next writer in.
        @event.listens_for(engine, "commit")
        def _sqlite_commit(conn: Any) -> None:
            if _SQLiteWriter.KEY in conn.info:
                try:
                    conn.connection.dbapi_connection.commit()
                finally:
                    writer.release(conn.info)

        @event.listens_for(engine, "rollback")
        def _sqlite_rollback(conn: Any) -> None:
            if _SQLiteWriter.KEY in conn.info:
                try:
                    conn.connection.dbapi_connection.rollback()
                except Exception:  # noqa: S110 (SQLAlchemy's own rollback follows and reports)
                    pass
                finally:
                    writer.release(conn.info)

        @event.listens_for(engine, "checkin")
        def _sqlite_checkin(_dbapi_conn: Any, record: Any) -> None:
            if record is not None:  # a connection returned or dropped mid-transaction
                writer.release(record.info)

        return engine
    engine = create_engine(url, **POSTGRES_POOL)
    _ping_if_idle(engine)
    return engine


def _ping_if_idle(engine: Engine) -> None:
    """The pool's pre-ping, for connections that sat idle only: a ping costs round trips on
    every check-out, and a connection checked in moments ago is as alive as a ping would
    show. One idle longer (across a server restart, a proxy's idle timeout) is pinged, and
    replaced if dead (the pool then renews every connection older than it)."""

    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return  # just connected, or just used
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(f"idle connection failed its ping: {exc}") from exc


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


# One per event loop: an asyncio connection belongs to the loop it was opened in.
_async_engines: WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncEngine] = WeakKeyDictionary()


def async_engine() -> AsyncEngine | None:
    """The app's PostgreSQL database through psycopg's asyncio connections, for work that runs
    on the event loop (the webhook path, `api.webhooks`): blocking-style code run in
    SQLAlchemy's greenlet bridge (`AsyncSession.run_sync`) with `bind=engine.sync_engine`
    awaits the database instead of holding a thread, so no thread hand-off nor contention for
    the interpreter's lock per statement. One engine per event loop, with the pool settings
    and idle ping of `make_engine`. None on SQLite (its one writer gains nothing from it),
    and when sessions are bound to one connection (the tests' `db`): use the thread path."""
    bind = get_sessionmaker().kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return None
    loop = asyncio.get_running_loop()
    engine = _async_engines.get(loop)
    if engine is None:
        engine = _async_engines[loop] = create_async_engine(bind.url, **POSTGRES_POOL)
        _ping_if_idle(engine.sync_engine)
    return engine


async def dispose_async_engine() -> None:
    """Close the running loop's asyncio connections (at shutdown)."""
    engine = _async_engines.pop(asyncio.get_running_loop(), None)
    if engine is not None:
        await engine.dispose()


@contextmanager
def session_scope(bind: Engine | None = None, *, one_statement: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error. `bind`: another engine
    than the app's (`async_engine().sync_engine`, in the greenlet bridge). `one_statement`: the
    unit is a single statement, which is atomic on its own, so on PostgreSQL it runs in
    autocommit, without the BEGIN and COMMIT round trips (each further statement commits on
    its own too: only for a unit that is one write); elsewhere an ordinary transaction."""
    session = get_sessionmaker()() if bind is None else get_sessionmaker()(bind=bind)
    try:
        engine = (bind or session.get_bind()) if one_statement else None
        if isinstance(engine, Engine) and engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_scope(bind: Engine | None = None) -> Iterator[Connection]:
    """Reads outside any transaction (autocommit: each statement reads on its own), for a
    short look-up that must not queue behind, nor hold up, writers: on SQLite no BEGIN (in WAL
    mode a statement reads a snapshot and never waits for the write lock), on PostgreSQL no
    BEGIN and ROLLBACK round trips. Never commits anything. `bind` as for `session_scope`."""
    bind = bind or get_sessionmaker().kw.get("bind")
    if not isinstance(bind, Engine):  # tests bind every session to their one connection
        with get_sessionmaker()() as session:
            yield session.connection()
        return
    with bind.connect() as connection:
        if bind.dialect.name == "sqlite":
            # The driver already runs in autocommit (the connect hook above): skipping BEGIN is
            # all it takes (SQLAlchemy's isolation_level option would reset it on check-in).
            yield connection.execution_options(**{READ_ONLY: True})
        else:
            yield connection.execution_options(isolation_level="AUTOCOMMIT")
