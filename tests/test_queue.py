"""The job queue: tasks through a real Huey consumer on SQLite and on Redis, enqueue only after
commit, retries of transient failures only, periodic jobs under a lock, the cross-process
pacer, and `regentra serve` running a consumer in-process on a SQLite queue."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, free_port
from huey.exceptions import TaskException
from huey.signals import SIGNAL_ENQUEUED
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from support.postgres import PostgresServer
from support.redis_server import RedisServer
from support.together import WAIT_FOR_GO, run_together

from regentra import periodic, queue
from regentra.config import get_settings
from regentra.db import normalize_url
from regentra.queue import Transient, enqueue, task

# ---- tasks used by these tests (declared like any flow's tasks) --------------------------------


def _append(path: str, line: str) -> int:
    with open(path, "a") as fh:
        fh.write(line + "\n")
    return len(Path(path).read_text().splitlines())


@task("test.queue.record")
def record(path: str, value: str) -> None:
    _append(path, value)


@task("test.queue.flaky", retries=3, retry_delay=0.05)
def flaky(path: str, failures: int) -> None:
    attempt = _append(path, "attempt")
    if attempt <= failures:
        raise Transient(f"vendor unavailable (attempt {attempt})")
    _append(path + ".done", "done")


@task("test.queue.down", retries=2, retry_delay=0.05)
def always_down(path: str) -> None:
    _append(path, "attempt")
    raise Transient("vendor unavailable")


@task("test.queue.broken", retries=3, retry_delay=0.05)
def broken(path: str) -> None:
    _append(path, "attempt")
    raise ValueError("a bug, not an outage")


SWEEP_STARTED = threading.Event()
SWEEP_RELEASE = threading.Event()
SWEEP_RUNS: list[float] = []


@task("test.queue.sweep")
def sweep() -> None:
    SWEEP_RUNS.append(time.time())
    SWEEP_STARTED.set()
    SWEEP_RELEASE.wait(10)


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    server.client().flushall()
    return server.url


@pytest.fixture
def huey(queue_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The process's Huey instance (`get_huey()`), configured for `queue_url`."""
    monkeypatch.setenv("REGENTRA_QUEUE_URL", queue_url)
    get_settings.cache_clear()
    queue.get_huey.cache_clear()
    instance = queue.get_huey()
    yield instance
    queue.get_huey.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def consumer(huey: Any) -> Iterator[Any]:
    """A real Huey consumer on worker threads of this process (as `regentra serve` runs it)."""
    running = queue.start_in_process(huey, workers=2)
    yield running
    queue.stop_in_process(running)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Callable[[], Session], Table]]:
    """An application database with one table, to commit and roll back real transactions."""
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    meta = MetaData()
    things = Table("things", meta, Column("id", Integer, primary_key=True), Column("name", String))
    meta.create_all(engine)
    yield (lambda: Session(engine)), things
    engine.dispose()


def wait_for(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def queued_args(huey: Any) -> list[tuple[Any, ...]]:
    return [huey.deserialize_task(data).args for data in huey.storage.enqueued_items()]


# ---- the queue backend -----------------------------------------------------------------------


def test_backend_follows_queue_url(huey: Any, queue_url: str) -> None:
    assert queue.is_sqlite(huey) == queue_url.startswith("sqlite:")
    assert type(huey).__name__ == ("SqliteHuey" if queue_url.startswith("sqlite:") else "RedisHuey")


def test_default_queue_is_a_sqlite_file_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGENTRA_QUEUE_URL", "")
    get_settings.cache_clear()
    try:
        huey = queue.make_huey(get_settings().queue_url)
        assert queue.is_sqlite(huey)
        assert Path(huey.storage.filename) == Path(os.environ["REGENTRA_VAR_DIR"]) / "queue.db"
        with pytest.raises(Exception, match="REGENTRA_QUEUE_URL must be"):
            queue.make_huey("amqp://broker")
    finally:
        get_settings.cache_clear()


# ---- tasks through a real consumer -----------------------------------------------------------


@pytest.mark.e2e
def test_task_runs_through_a_real_consumer(
    huey: Any, consumer: Any, db: Any, tmp_path: Path
) -> None:
    sessions, things = db
    out = tmp_path / "out.txt"
    with sessions() as session:
        session.execute(insert(things).values(name="a"))
        enqueue(session, "test.queue.record", str(out), "committed")
        session.commit()
    wait_for(lambda: lines(out) == ["committed"], what="the task to run")


@pytest.mark.e2e
def test_transient_failure_is_retried_with_backoff(
    huey: Any, consumer: Any, tmp_path: Path
) -> None:
    out = tmp_path / "flaky.txt"
    queue.send("test.queue.flaky", str(out), 2)
    wait_for(lambda: lines(Path(str(out) + ".done")) == ["done"], what="the retried task")
    assert lines(out) == ["attempt"] * 3


@pytest.mark.e2e
def test_retries_of_a_transient_failure_run_out(huey: Any, consumer: Any, tmp_path: Path) -> None:
    out = tmp_path / "down.txt"
    task_id = queue.send("test.queue.down", str(out))
    with pytest.raises(TaskException):
        huey.result(task_id, blocking=True, timeout=20, preserve=True)
    assert lines(out) == ["attempt"] * 3  # the first run and 2 retries
    assert huey.pending_count() == 0 and huey.scheduled_count() == 0


@pytest.mark.e2e
def test_other_errors_are_not_retried(huey: Any, consumer: Any, tmp_path: Path) -> None:
    out = tmp_path / "broken.txt"
    task_id = queue.send("test.queue.broken", str(out))
    with pytest.raises(TaskException) as failed:
        huey.result(task_id, blocking=True, timeout=20, preserve=True)
    assert "a bug, not an outage" in str(failed.value)
    assert lines(out) == ["attempt"]
    assert huey.pending_count() == 0 and huey.scheduled_count() == 0


def test_backoff_grows_with_jitter() -> None:
    spec = queue.spec("test.queue.flaky")
    delays = [[spec.backoff(attempt) for attempt in (1, 2, 3)] for _ in range(50)]
    for first, second, third in delays:
        assert 0.025 <= first <= 0.05 and 0.05 <= second <= 0.1 and 0.1 <= third <= 0.2
    assert len({round(d[0], 6) for d in delays}) > 1  # jittered


# ---- enqueue after commit --------------------------------------------------------------------


def test_enqueue_waits_for_commit(huey: Any, db: Any, tmp_path: Path) -> None:
    sessions, things = db
    with sessions() as session:
        session.execute(insert(things).values(name="a"))
        enqueue(session, "test.queue.record", "x", "1")
        assert huey.pending_count() == 0  # not before the commit
        session.commit()
        assert queued_args(huey) == [("x", "1")]


def test_a_commit_in_the_greenlet_bridge_sends_from_a_worker_thread(
    huey: Any, postgres_server: PostgresServer
) -> None:
    """A unit of work on an asyncio engine (the webhook path on PostgreSQL: SQLAlchemy's
    greenlet bridge on the event loop) commits: the queue is a blocking client, so the task is
    sent from a worker thread, never the loop's own. Sync sessions send in their own thread
    (the tests above), even where another library keeps an event loop running."""
    url = postgres_server.create_database(f"regentra_q_{uuid.uuid4().hex[:8]}")
    senders: list[int] = []
    huey.signal(SIGNAL_ENQUEUED)(lambda _signal, _task: senders.append(threading.get_ident()))

    def unit_of_work(session: Session) -> None:
        session.execute(text("CREATE TABLE things (name text)"))
        session.execute(text("INSERT INTO things VALUES ('a')"))
        enqueue(session, "test.queue.record", "x", "from the loop")
        session.commit()

    async def on_the_loop() -> int:
        engine = create_async_engine(normalize_url(url))
        try:
            async with AsyncSession(engine) as session:
                await session.run_sync(unit_of_work)
        finally:
            await engine.dispose()
        return threading.get_ident()

    # A loop of its own, in a thread of its own (a browser test's Playwright keeps one
    # running in this thread); `asyncio.run` returns once the loop's executor has finished.
    with ThreadPoolExecutor(1) as pool:
        loop_thread = pool.submit(lambda: asyncio.run(on_the_loop())).result(timeout=60)
    assert queued_args(huey) == [("x", "from the loop")]
    assert len(senders) == 1 and senders[0] != loop_thread


def test_rolled_back_work_sends_nothing(huey: Any, db: Any) -> None:
    sessions, things = db
    with sessions() as session:
        session.execute(insert(things).values(name="a"))
        enqueue(session, "test.queue.record", "x", "rolled back")
        session.rollback()
        assert huey.pending_count() == 0
        # The same session's next transaction must not send the rolled-back task.
        session.execute(insert(things).values(name="b"))
        enqueue(session, "test.queue.record", "x", "second")
        session.commit()
    assert queued_args(huey) == [("x", "second")]


def test_closing_without_commit_sends_nothing(huey: Any, db: Any) -> None:
    sessions, things = db
    session = sessions()
    session.execute(insert(things).values(name="a"))
    enqueue(session, "test.queue.record", "x", "abandoned")
    session.close()
    assert huey.pending_count() == 0


def test_rolled_back_savepoint_drops_only_its_tasks(huey: Any, db: Any) -> None:
    sessions, things = db
    with sessions() as session:
        session.execute(insert(things).values(name="a"))
        enqueue(session, "test.queue.record", "x", "outer")
        savepoint = session.begin_nested()
        session.execute(insert(things).values(name="b"))
        enqueue(session, "test.queue.record", "x", "inner, rolled back")
        savepoint.rollback()
        with session.begin_nested():
            enqueue(session, "test.queue.record", "x", "inner, released")
        session.commit()
    assert sorted(queued_args(huey)) == [("x", "inner, released"), ("x", "outer")]


def test_enqueue_before_any_statement_still_waits_for_commit(huey: Any, db: Any) -> None:
    sessions, _ = db
    with sessions() as session:
        enqueue(session, "test.queue.record", "x", "early")
        assert huey.pending_count() == 0
        session.commit()
    assert queued_args(huey) == [("x", "early")]


def test_rollback_before_any_statement_drops_the_task(huey: Any, db: Any) -> None:
    sessions, _ = db
    with sessions() as session:
        enqueue(session, "test.queue.record", "x", "dropped")
        session.rollback()
        session.commit()
    assert huey.pending_count() == 0


def test_unknown_task_name_fails_in_the_caller(huey: Any, db: Any) -> None:
    sessions, _ = db
    with sessions() as session, pytest.raises(LookupError, match="no task is declared"):
        enqueue(session, "test.queue.no-such-task")


def test_task_names_are_unique() -> None:
    with pytest.raises(ValueError, match="already taken"):

        @task("test.queue.record")
        def another(path: str, value: str) -> None:
            pass


# ---- task modules ----------------------------------------------------------------------------


def test_load_tasks_imports_existing_modules_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(queue, "TASK_MODULES", ("regentra.kit.money", "regentra.nowhere.tasks"))
    assert queue.load_tasks() == ["regentra.kit.money"]
    # A module that exists but is broken is not hidden.
    (tmp_path / "regentra_broken_tasks.py").write_text("raise RuntimeError('broken task module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(queue, "TASK_MODULES", ("regentra_broken_tasks",))
    with pytest.raises(RuntimeError, match="broken task module"):
        queue.load_tasks()


# ---- periodic jobs ---------------------------------------------------------------------------


def test_periodic_job_never_runs_twice_at_once(huey: Any) -> None:
    entry = periodic.Periodic("test-sweep", task="test.queue.sweep", schedule=lambda _dt: True)
    periodic.install(huey, [entry])
    (job,) = [t for t in huey._registry.periodic_tasks if type(t).__name__ == "periodic.test-sweep"]
    SWEEP_RUNS.clear()
    SWEEP_STARTED.clear()
    SWEEP_RELEASE.clear()
    # Two consumers wake the same job: the first runs it, the second finds it locked.
    first = threading.Thread(target=huey.execute, args=(job,))
    first.start()
    assert SWEEP_STARTED.wait(10)
    assert huey.is_locked("periodic.test-sweep")
    huey.execute(type(job)())
    assert len(SWEEP_RUNS) == 1
    SWEEP_RELEASE.set()
    first.join(10)
    assert not huey.is_locked("periodic.test-sweep")
    huey.execute(type(job)())  # once released, the next wake-up runs it again
    assert len(SWEEP_RUNS) == 2


def test_periodic_job_must_name_a_declared_task(huey: Any) -> None:
    entry = periodic.Periodic("test-bad", task="test.queue.undeclared", schedule=lambda _dt: True)
    with pytest.raises(LookupError):
        periodic.install(huey, [entry])


# ---- pacing across processes -----------------------------------------------------------------

PACE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from regentra import queue
    key, rate, calls = sys.argv[1:4]
    WAIT_FOR_GO
    released = []
    for _ in range(int(calls)):
        queue.pace(key, float(rate))
        released.append(time.time())
    print(json.dumps(released))
    """
).replace("WAIT_FOR_GO", WAIT_FOR_GO)


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_pacer_reserves_a_slot_every_key_allows(huey: Any) -> None:
    """One reservation honours an account's schedule and an endpoint's at once: the slot is the
    later of the two, and both schedules move on from it. (Rates of one call per 100 s, so the
    waits are far apart from anything a slow machine could add.)"""
    pacer = queue.pacer(huey)
    fast, slow = 1000.0, 0.01

    def reserve(account: str, account_rate: float, endpoint: str, endpoint_rate: float) -> float:
        return pacer.reserve_all([(account, account_rate), (account + endpoint, endpoint_rate)])

    a, b, c = (f"acct-{uuid.uuid4().hex}" for _ in range(3))
    # The endpoint's pace holds back a second call to it, though the account allows it...
    assert reserve(a, fast, ":GET /v1/x", slow) == 0
    assert 95 < reserve(a, fast, ":GET /v1/x", slow) <= 100
    # ...but not a call to another endpoint of the account, nor another account's calls.
    assert reserve(b, fast, ":GET /v1/x", slow) == 0
    assert reserve(b, fast, ":GET /v1/y", slow) < 1
    # The account's pace holds back a call to any of its endpoints.
    assert reserve(c, slow, ":GET /v1/x", fast) == 0
    assert reserve(c, slow, ":GET /v1/y", fast) > 95
    # A call held back by an endpoint does not hold back the account's calls to others.
    assert reserve(a, fast, ":GET /v1/z", fast) < 1
    # Rates of 0 do not limit.
    assert pacer.reserve_all([(a, 0), (a + ":GET /v1/x", 0)]) == 0


def test_pacer_fills_an_accounts_free_times_around_a_held_back_call(huey: Any) -> None:
    """An account of one call per 10 s whose endpoint X allows one per 100 s: the second call to
    X waits 100 s, and calls to other endpoints take the account's times before it, every two
    of the account's calls still 10 s apart (the held-back call's slot included)."""
    pacer = queue.pacer(huey)
    account = f"acct-{uuid.uuid4().hex}"

    def reserve(endpoint: str, endpoint_rate: float = 1000.0) -> float:
        return pacer.reserve_all([(account, 0.1), (account + endpoint, endpoint_rate)])

    began = time.monotonic()
    assert reserve(":X", 0.01) == 0
    assert 99 < reserve(":X", 0.01) <= 100
    waits = [reserve(":Y") for _ in range(10)]
    drift = time.monotonic() - began  # the machine's time between the reservations
    # 10, 20, ... 90 s: before the held-back call at 100 s; then 110 s, after it.
    expected = [10.0 * n for n in range(1, 10)] + [110.0]
    assert all(e - drift - 0.01 <= w <= e + 0.01 for w, e in zip(waits, expected, strict=True))


def test_earliest_slot_is_the_first_time_every_key_allows() -> None:
    # Key 1: gap 10, reserved 0 and 100. Key 2: gap 1, reserved 10.
    taken = [(10.0, [0.0, 100.0]), (1.0, [10.0])]
    assert queue.earliest_slot(0.0, taken) == 11.0  # 10 is key 2's; 11 is 10+ from 0 and 100
    assert queue.earliest_slot(50.0, taken) == 50.0
    assert queue.earliest_slot(95.0, taken) == 110.0
    assert queue.earliest_slot(0.0, []) == 0.0


@pytest.mark.e2e
def test_pacer_holds_across_processes(queue_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "REGENTRA_QUEUE_URL": queue_url}
    command = [sys.executable, "-c", PACE_SCRIPT, "org-1", "20", "30"]
    released: list[float] = []
    for out in run_together([command, command], cwd=ROOT, env=env, timeout=60):
        released += json.loads(out.strip().splitlines()[-1])
    assert len(released) == 60
    # 60 calls at 20/s from two processes: about 3 s. Slots are 50 ms apart, so any second holds
    # at most 21 of them; a process the OS wakes up to 100 ms after its slot (a busy CI machine)
    # can bring 2 more times into one second. Two unshared schedules would put about 40 there.
    assert most_in_one_second(released) <= 23
    assert max(released) - min(released) >= 2.8


# ---- `regentra serve` runs a consumer on a SQLite queue --------------------------------------


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    port = free_port()
    log_path = tmp_path / f"serve-{port}.log"
    env = {
        **os.environ,
        "REGENTRA_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "REGENTRA_QUEUE_URL": f"sqlite:///{tmp_path / 'serve-queue.db'}",
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "regentra", "serve", "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, log_path
        except httpx.HTTPError:
            time.sleep(0.1)


@pytest.mark.e2e
def test_serve_runs_a_consumer_in_process_on_sqlite(tmp_path: Path) -> None:
    proc, log_path = _serve(tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    log = log_path.read_text()
    assert "job queue consumer started in-process" in log
    assert proc.returncode == 0, log
    assert "Traceback" not in log


@pytest.mark.e2e
def test_serve_no_worker(tmp_path: Path) -> None:
    proc, log_path = _serve(tmp_path, "--no-worker")
    proc.terminate()
    proc.wait(timeout=30)
    log = log_path.read_text()
    assert "job queue consumer started" not in log
    assert "Traceback" not in log
