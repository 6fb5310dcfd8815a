"""Shared fixtures: real databases (a SQLite file and a throwaway PostgreSQL), the app
in-process, real `regentra serve` processes for `e2e` tests, and factories.

Every test that touches a database runs once per backend (`--backends`, default both).

In-process (the default): `db` joins each test's sessions into one outer transaction on one
connection to the backend's `rollback_database` (SQLAlchemy's "join a session into an
external transaction" recipe, with savepoints), rolled back at the end; the app in the test
process (`site`, `kit.api()`, `stripe_app`) and every job run by `run_tasks` take their
sessions from it, so a test sees exactly what it made and leaves nothing behind. `e2e` tests
(`live_server`, `stripe_server`) commit for real, to `database`, through real processes.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import pytest

# The test process and every server it starts share these settings.
_VAR = Path(tempfile.mkdtemp(prefix="regentra-test-var-"))
os.environ["REGENTRA_VAR_DIR"] = str(_VAR)
os.environ["REGENTRA_ENV"] = "development"
os.environ["REGENTRA_ENCRYPTION_KEYS"] = "test1:" + base64.b64encode(b"\x01" * 32).decode()
os.environ["REGENTRA_SESSION_SECRET"] = "test-session-secret-" + "x" * 40
os.environ["REGENTRA_QUEUE_URL"] = f"sqlite:///{_VAR / 'queue.db'}"
os.environ.pop("REGENTRA_DATABASE_URL", None)
# Never Stripe itself: tests that talk to Stripe point this at a sandbox; any other call
# fails at once on a closed local port (the discard port) instead of leaving the machine.
os.environ["REGENTRA_STRIPE_API_BASE"] = "http://127.0.0.1:9"
# The hourly reconciliation and the other sweeps must not act behind a test's back (in a test
# consumer or a test server): the tests of those jobs run them directly.
os.environ["REGENTRA_PERIODIC_JOBS"] = "false"

from factories import PASSWORD, OrgKit, _org_factory  # noqa: E402, F401
from pwdlib import PasswordHash  # noqa: E402
from pwdlib.hashers.argon2 import Argon2Hasher  # noqa: E402
from sqlalchemy import Engine, event  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from support.postgres import PostgresServer, start_postgres  # noqa: E402
from support.redis_server import RedisServer, start_redis  # noqa: E402

import regentra.db  # noqa: E402
from regentra.auth import passwords  # noqa: E402
from regentra.db import make_engine  # noqa: E402
from regentra.migrate import upgrade  # noqa: E402

# The Stripe sandbox and the app wired to it, shared by every test directory.
pytest_plugins = ["support.stripe_fixtures", "support.qbo_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
ALL_BACKENDS = ["sqlite", "postgres"]
# The app's idea of its own address in-process (cookies, webhook URLs); nothing listens there.
BASE_URL = "http://127.0.0.1:8000"

# Password hashing: production argon2 costs ~50 ms a hash, and the suite makes thousands of
# users. The test process hashes cheaply (still argon2id); tests/auth/test_passwords.py checks
# the production parameters on `PRODUCTION_HASHER`. Servers started by e2e tests hash as in
# production (their users are mostly made here, and argon2 verifies with the stored costs).
PRODUCTION_HASHER = passwords._hasher
passwords._hasher = lru_cache(maxsize=1)(  # type: ignore[method-assign]
    lambda: PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=os.environ.get("REGENTRA_TEST_BACKENDS", ",".join(ALL_BACKENDS)),
        help="comma-separated database backends to run on (sqlite, postgres); default both",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        chosen = [b.strip() for b in metafunc.config.getoption("--backends").split(",")]
        unknown = set(chosen) - set(ALL_BACKENDS)
        if unknown or not chosen:
            raise pytest.UsageError(f"--backends: unknown {sorted(unknown)}; use sqlite,postgres")
        metafunc.parametrize("database", chosen, indirect=True, scope="session")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A throwaway redis-server for this test process (tests flush it as they need)."""
    server = start_redis()
    yield server
    server.stop()


@dataclass
class Database:
    backend: str
    url: str
    sessions: sessionmaker[Session]
    engine: Engine | None = None

    def session(self) -> Session:
        return self.sessions()


def _database(backend: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    if backend == "sqlite":
        url = f"sqlite:///{_VAR / f'test-{uuid.uuid4().hex[:8]}.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(f"regentra_{uuid.uuid4().hex[:8]}")
    upgrade(url)
    engine = make_engine(url)
    _release_on_error(engine)
    yield Database(backend, url, sessionmaker(bind=engine, expire_on_commit=False), engine)
    engine.dispose()


@pytest.fixture(scope="session")
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A migrated database per backend (parametrized by `--backends`), shared by the e2e tests
    of that backend and their servers (they commit, and keep apart through their own orgs)."""
    yield from _database(request.param, request)


@pytest.fixture(scope="session")
def rollback_database(database: Database, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A second migrated database of the same backend, only for in-process tests (`db`): a
    test's open transaction there never makes an e2e server on `database` wait for SQLite's
    write lock."""
    yield from _database(database.backend, request)


@pytest.fixture
def db(rollback_database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """This test's view of the database: one connection in an outer transaction, rolled back
    at the end. Every session (the test's, the app's, the jobs') joins it through a savepoint,
    so `session.commit()` and `session.rollback()` behave as in production."""
    database = rollback_database
    assert database.engine is not None
    connection = database.engine.connect()
    outer = connection.begin()
    sessions = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    _refuse_concurrent_use(connection)
    monkeypatch.setattr(regentra.db, "get_sessionmaker", lambda: sessions)
    monkeypatch.setattr(regentra.db, "get_engine", lambda: database.engine)
    try:
        yield Database(database.backend, database.url, sessions, database.engine)
    finally:
        if outer.is_active:
            outer.rollback()
        connection.close()


class _OneThreadAtATime:
    """Who holds the test's connection for the statement running now."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner: int | None = None

    def enter(self) -> None:
        if not self.lock.acquire(blocking=False):
            raise RuntimeError(
                "two threads used the test's database connection at once: a test of "
                "concurrency needs real servers (`live_server`/`stripe_server`, marked e2e)"
            )
        self.owner = threading.get_ident()

    def leave(self) -> None:
        """Release, only by the thread that holds it (a refused second thread's error also
        reaches `handle_error`, and must not free the first thread's statement)."""
        if self.owner == threading.get_ident():
            self.owner = None
            self.lock.release()


def _refuse_concurrent_use(connection: Any) -> None:
    """The test's one connection serves one statement at a time: two threads at once would
    corrupt it. A test whose point is concurrency needs real servers (`e2e`), and is told so."""
    guard = connection.info["regentra.test.guard"] = _OneThreadAtATime()
    event.listen(connection, "before_cursor_execute", lambda *_: guard.enter())
    event.listen(connection, "after_cursor_execute", lambda *_: guard.leave())


def _release_on_error(engine: Engine) -> None:
    """A failed statement never reaches `after_cursor_execute`: free the connection here."""

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        conn = context.connection
        guard = conn.info.get("regentra.test.guard") if conn is not None else None
        if guard is not None:
            guard.leave()


# ---- the app in-process -------------------------------------------------------------------


@pytest.fixture(scope="session")
def app() -> Any:
    from regentra.app import create_app

    return create_app()


class Site:
    """The app in-process over HTTP (Starlette's TestClient), as `BASE_URL`. Requests run in
    the test's transaction (`db`). `http()` gives a client of its own (own cookies)."""

    def __init__(self, app: Any, db: Database) -> None:
        self.app = app
        self.db = db
        self.url = BASE_URL
        self._default: TestClient | None = None

    def http(self, base_path: str = "", **kw: Any) -> TestClient:
        kw.setdefault("follow_redirects", False)
        return TestClient(self.app, base_url=BASE_URL + base_path, **kw)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        if self._default is None:
            self._default = self.http()
        return self._default.request(method, path, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)


@pytest.fixture
def site(app: Any, db: Database) -> Site:
    """The app in-process on this test's transaction."""
    return Site(app, db)


@pytest.fixture
def run_tasks(db: Database) -> Callable[..., list[str]]:
    """Run the jobs the test's requests enqueued, here and now, on the test's transaction
    (what a worker would do next); returns the names of the tasks run. Jobs a job enqueues
    run too, up to `limit`."""
    from regentra import queue

    huey = queue.get_huey()
    huey.flush()

    def run(limit: int = 100) -> list[str]:
        ran: list[str] = []
        while len(ran) < limit:
            message = huey.dequeue()
            if message is None:
                return ran
            huey.execute(message)
            ran.append(message.name)
        raise AssertionError(f"more than {limit} jobs ran: {ran[-10:]}")

    return run


@dataclass
class LiveServer:
    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    database_url: str,
    *,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    port: int | None = None,
) -> LiveServer:
    """`regentra serve` on `database_url` (`args`: more options, e.g. `--no-worker`), on
    `port` when given (its base URL known before it starts), else a free one."""
    port = port or free_port()
    log_path = _VAR / f"server-{port}.log"
    env = {**os.environ, "REGENTRA_DATABASE_URL": database_url, **(extra_env or {})}
    env["REGENTRA_BASE_URL"] = f"http://127.0.0.1:{port}"
    if "REGENTRA_QUEUE_URL" not in (extra_env or {}):
        # Each server runs a consumer in-process: a queue of its own, so it never picks up a
        # task another server (on another database) enqueued.
        env["REGENTRA_QUEUE_URL"] = f"sqlite:///{_VAR / f'queue-server-{port}.db'}"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "regentra", "serve", "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # generous: a loaded 2-core machine starts slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"regentra serve exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return LiveServer(url, database_url, process, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"regentra serve did not become healthy:\n{log_path.read_text()}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(database: Database) -> Iterator[LiveServer]:
    """A real `regentra serve` process on the backend's database."""
    server = start_server(database.url)
    yield server
    stop_server(server)


@pytest.fixture
def make_org(database: Database, request: pytest.FixtureRequest) -> Callable[..., OrgKit]:
    """Create orgs through the services: committed and tied to the live server when the test
    uses `live_server` (e2e), otherwise in the test's transaction with `kit.api()` in-process."""
    if "live_server" in request.fixturenames:
        return _org_factory(database, request.getfixturevalue("live_server"))
    return _org_factory(request.getfixturevalue("db"), request.getfixturevalue("site"))


@pytest.fixture(autouse=True)
def _settings_read_afresh_after_each_test() -> Iterator[None]:
    """Tests change settings through `monkeypatch.setenv` (then `get_settings.cache_clear()`);
    after the test, once monkeypatch has restored the environment, the next read sees it."""
    from regentra.config import get_settings

    yield
    get_settings.cache_clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run against real servers: they are e2e too."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under CI nothing may be skipped: a skip is turned into a failure."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is not allowed: {report.longrepr}"
