"""The job queue: the one Huey instance, tasks under stable names, enqueue after commit, and a
pacing throttle that lives in the queue's storage.

- `get_huey()`: `SqliteHuey` on `$REGENTRA_VAR_DIR/queue.db` by default (or the file of a
  `sqlite:///…` URL), `RedisHuey` when `REGENTRA_QUEUE_URL=redis://…` (or `rediss://`), with
  the task modules loaded and the periodic jobs of `regentra.periodic` installed.
- `@task("stripe.catalog_sync", retries=5, retry_delay=2)` declares a task beside its flow
  (`integrations/*/tasks.py`). Tasks take ids, open their own session
  (`regentra.db.session_scope`) and are idempotent. Raising `Transient` retries with
  exponential back-off and jitter; any other exception fails the task at once.
- `enqueue(session, "stripe.catalog_sync", sync_id)` sends the task only after `session`
  commits, never for a rolled-back change. Domains call it by name and never import
  integrations; `load_tasks()` imports the task modules in the web process and the consumer.
- `pace(key, rate)` spaces calls to an outside API across every process that shares the
  queue (see `Pacer`); `pace_all((key, rate), ...)` honours several schedules at once (an
  account's and one of its endpoints') in one round-trip.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import structlog
from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from huey.exceptions import RetryTask
from huey.storage import RedisStorage, SqliteStorage
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from regentra import periodic, task_registry
from regentra.config import VAR_DIR, ConfigError, get_settings
from regentra.kit.files import private_file
from regentra.task_registry import TASK_NAMESPACE, TaskSpec

log = structlog.get_logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# Modules that declare tasks, imported by `load_tasks` in the web process and the consumer.
# Add a module here when a flow gets its first task.
TASK_MODULES = (
    "regentra.integrations.stripe.tasks",
    "regentra.integrations.quickbooks.tasks",
    "regentra.integrations.platform.tasks",
    "regentra.invoices.tasks",
    "regentra.invoice_runs.tasks",
)


class Transient(Exception):
    """A failure worth retrying (vendor outage, rate limit, timeout). `retry_after` (seconds)
    overrides the back-off when the vendor said how long to wait."""

    def __init__(self, message: str = "", *args: Any, retry_after: float | None = None) -> None:
        super().__init__(message, *args)
        self.retry_after = retry_after


# ---- the Huey instance ------------------------------------------------------------------------


def make_huey(url: str) -> Huey:
    """A Huey instance for `url` with every task declared so far registered on it."""
    if url.startswith(("redis://", "rediss://")):
        huey: Huey = RedisHuey("regentra", url=url)
    elif url == "" or url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")) if url else VAR_DIR / "queue.db"
        private_file(path)
        huey = SqliteHuey("regentra", filename=str(path), timeout=30)
    else:
        raise ConfigError(
            "REGENTRA_QUEUE_URL must be redis://host:port/db, rediss://… or sqlite:///path "
            "(empty: a SQLite file under REGENTRA_VAR_DIR)."
        )
    with _lock:
        _WRAPPERS[huey] = {}
        for spec in task_registry.declared():
            _register(huey, spec)
    return huey


@lru_cache(maxsize=1)
def get_huey() -> Huey:
    """The process's Huey instance, with the task modules and periodic jobs loaded."""
    huey = make_huey(get_settings().queue_url)
    load_tasks()
    periodic.install(huey)
    return huey


def is_sqlite(huey: Huey) -> bool:
    return isinstance(huey.storage, SqliteStorage)


def _module_exists(name: str) -> bool:
    parts = name.split(".")
    return all(
        importlib.util.find_spec(".".join(parts[:i])) is not None for i in range(1, 1 + len(parts))
    )


def load_tasks() -> list[str]:
    """Import every task module that exists (idempotent); returns their names. A listed module
    that is missing is skipped; one that fails to import raises."""
    loaded = []
    for name in TASK_MODULES:
        if _module_exists(name):
            importlib.import_module(name)
            loaded.append(name)
    return loaded


# ---- tasks ------------------------------------------------------------------------------------


_lock = threading.RLock()  # declaring a task and making a Huey instance see the same set
_WRAPPERS: weakref.WeakKeyDictionary[Huey, dict[str, Any]] = weakref.WeakKeyDictionary()


def task(
    name: str, *, retries: int = 0, retry_delay: float = 1.0, max_retry_delay: float = 600.0
) -> Callable[[F], F]:
    """Declare `fn` as the task `name`. `retries` counts retries of `Transient` failures,
    `retry_delay` is the first back-off in seconds (doubling, with jitter, up to
    `max_retry_delay`). The function is returned unchanged: calling it runs it here."""

    def decorator(fn: F) -> F:
        spec = TaskSpec(name, fn, retries, retry_delay, max_retry_delay)
        with _lock:
            task_registry.declare(spec)
            for huey in list(_WRAPPERS):
                _register(huey, spec)
        return fn

    return decorator


def _register(huey: Huey, spec: TaskSpec) -> None:
    wrappers = _WRAPPERS[huey]
    old = wrappers.pop(spec.name, None)
    if old is not None:
        old.unregister()

    def run(*args: Any, task: Any) -> Any:
        try:
            return spec.fn(*args)
        except Transient as exc:
            if task.retries <= 0:
                log.error("task failed, retries used up", task=spec.name, error=str(exc))
                raise
            attempt = spec.retries - task.retries + 1
            delay = exc.retry_after if exc.retry_after is not None else spec.backoff(attempt)
            # RetryTask does not count against retries by itself: count here.
            task.retries -= 1
            log.warning(
                "task will retry",
                task=spec.name,
                attempt=attempt,
                delay=round(delay, 2),
                error=str(exc),
            )
            raise RetryTask(str(exc), delay=delay) from exc
        except Exception:
            task.retries = 0  # not transient: a retry would fail the same way
            raise

    run.__name__ = run.__qualname__ = spec.name
    run.__module__ = TASK_NAMESPACE
    run.__doc__ = spec.fn.__doc__
    wrappers[spec.name] = huey.task(retries=spec.retries, context=True, name=spec.name)(run)


def registered() -> list[str]:
    """Names of every declared task."""
    return sorted(spec.name for spec in task_registry.declared())


def spec(name: str) -> TaskSpec:
    """The task declared as `name` (loading task modules first); LookupError if none."""
    found = task_registry.find(name)
    if found is None:
        load_tasks()
        found = task_registry.find(name)
    if found is None:
        raise task_registry.unknown(name)
    return found


def send(name: str, *args: Any, huey: Huey | None = None) -> str:
    """Enqueue task `name` now, outside any transaction (sweeps, the CLI); returns its id.
    Inside a unit of work use `enqueue`, so a rolled-back change sends nothing."""
    spec(name)
    huey = huey or get_huey()
    result = _WRAPPERS[huey][name](*args)
    return str(result.id)


# ---- enqueue after commit ---------------------------------------------------------------------

_PENDING = "regentra.queue.pending"


@dataclass
class _Pending:
    name: str
    args: tuple[Any, ...]
    transaction: SessionTransaction | None


def enqueue(session: Session, name: str, *args: Any) -> None:
    """Send task `name(*args)` once `session` commits. A rollback (of the whole transaction,
    or of the savepoint it was asked in) drops it. Unknown names fail here, in the caller."""
    spec(name)
    if not session.in_transaction():
        # Begin now (no connection is taken until a statement runs): a rollback before any
        # statement must still drop the task, and only a begun transaction reports one.
        session.begin()
    transaction = session.get_nested_transaction() or session.get_transaction()
    _pending(session).append(_Pending(name, args, transaction))


def _pending(session: Session) -> list[_Pending]:
    pending: list[_Pending] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_soft_rollback)
    return pending


def _after_commit(session: Session) -> None:
    pending: list[_Pending] = session.info.get(_PENDING, [])
    items = list(pending)
    pending.clear()
    if not items:
        return
    if session.get_bind().dialect.is_async:
        # Committed through an asyncio driver, so in SQLAlchemy's greenlet bridge on the event
        # loop (the webhook path on PostgreSQL, `api.webhooks`): the queue is a blocking
        # client (a SQLite file that may be busy, or Redis), so the sends go to a worker
        # thread rather than stall every request meanwhile.
        asyncio.get_running_loop().run_in_executor(None, _send_all, items)
        return
    _send_all(items)


def _send_all(items: list[_Pending]) -> None:
    for item in items:
        try:
            send(item.name, *item.args)
        except Exception:
            # The change is committed; failing the caller now would report a failure for a
            # change that happened. The flow's periodic sweep re-enqueues what was dropped.
            log.exception("could not enqueue task after commit", task=item.name)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    pending: list[_Pending] = session.info.get(_PENDING, [])
    if previous.parent is None:
        pending.clear()
        return
    pending[:] = [p for p in pending if not _within(p.transaction, previous)]


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


# ---- consumers --------------------------------------------------------------------------------


class _InProcessConsumer(Consumer):  # type: ignore[misc]
    """A consumer that leaves signal handling to its host (uvicorn in `regentra serve`)."""

    def _set_signal_handlers(self) -> None:
        pass


def consumer(huey: Huey, *, workers: int = 2, in_process: bool = False) -> Consumer:
    """A consumer on thread workers, with periodic jobs. Locks of periodic jobs left by a
    consumer that died mid-run are flushed at start, so a crash never stops a sweep."""
    cls = _InProcessConsumer if in_process else Consumer
    return cls(
        huey,
        workers=workers,
        worker_type="thread",
        periodic=get_settings().periodic_jobs,
        flush_locks=True,
        # An idle SQLite queue is polled at most a second apart (Redis blocks on the list),
        # so a task enqueued after a quiet spell still starts within a second.
        max_delay=1.0,
    )


def start_in_process(huey: Huey, *, workers: int = 2) -> Consumer:
    """Start a consumer on background threads of this process; stop it with
    `stop_in_process`."""
    running = consumer(huey, workers=workers, in_process=True)
    running.start()
    log.info("job queue consumer started in-process", workers=workers)
    return running


def stop_in_process(running: Consumer, *, timeout: float = 5.0) -> None:
    """Stop taking tasks and wait up to `timeout` seconds for the running ones."""
    running.shutdown_timeout = timeout
    running.stop(graceful=True)
    running.huey.notify_interrupted_tasks()


# ---- pacing (cross-process throttle) ----------------------------------------------------------

# Reserve the earliest slot at or after now that is at least each key's gap (ARGV[i], in
# microseconds) away from every slot already reserved for that key: the keys' reserved slots
# are sorted sets of times (score = member = µs on the Redis clock). See `Pacer`.
_PACE_LUA = """\
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local taken, candidates = {}, {now}
for i, key in ipairs(KEYS) do
  local gap = tonumber(ARGV[i])
  taken[i] = redis.call('ZRANGEBYSCORE', key, '(' .. string.format('%.0f', now - gap), '+inf')
  for j, v in ipairs(taken[i]) do
    taken[i][j] = tonumber(v)
    table.insert(candidates, taken[i][j] + gap)
  end
end
table.sort(candidates)
local slot = candidates[#candidates]
for _, c in ipairs(candidates) do
  local free = c >= now
  for i = 1, #KEYS do
    if not free then break end
    local gap = tonumber(ARGV[i])
    for _, r in ipairs(taken[i]) do
      if c > r - gap and c < r + gap then free = false break end
    end
  end
  if free then slot = c break end
end
local member = string.format('%.0f', slot)
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, slot, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%.0f', now - 60000000))
  redis.call('PEXPIRE', key, math.floor((slot - now) / 1000) + 60000)
end
return string.format('%.0f', slot - now)
"""


def earliest_slot(now: float, taken: Sequence[tuple[float, Sequence[float]]]) -> float:
    """The earliest time at or after `now` at least `gap` away from every time reserved for
    each key, `taken` being (gap, reserved times) per key (the Lua script's rule)."""
    candidates = sorted({now, *(r + gap for gap, times in taken for r in times)})
    for c in candidates:
        # (less a tenth of a microsecond: r + gap - r is not always gap in floating point)
        if c >= now and all(abs(c - r) >= gap - 1e-7 for gap, times in taken for r in times):
            return c
    return candidates[-1]  # not reached: the latest candidate clears every reserved time


class Pacer:
    """Spaces calls sharing a key so they run at most `rate` per second, across every thread
    and process that uses the same queue.

    Why this design: Stripe limits requests per account over a sliding second, and Regentra
    runs many `serve` and `worker` processes. Process memory cannot hold the count, and a
    fixed one-second window lets twice the rate through across a window boundary. So each
    key keeps the times reserved for its calls, every two of them at least 1/rate apart, and
    a call reserves the earliest such time at or after now and sleeps until it. Any one-second
    window then holds at most rate + 1 calls, bursts are smoothed rather than refused, and a
    lone call never waits.

    A call may need several schedules at once (Stripe limits an account and, besides, each
    endpoint of it): `reserve_all` gives it the earliest time that every one of its keys
    allows, atomically. A call held back by one endpoint does not hold back the account's
    calls to other endpoints: they take the account's free times before it. (Keeping the
    schedules in slot order instead, a virtual-scheduling GCRA, let one busy endpoint idle the
    whole account: a month-end run of four senders went at under half the account's rate.)

    The schedule lives where the queue lives, because every process that can run a task
    already shares that storage: a Lua script on the Redis server (atomic, on the Redis clock,
    sorted sets) when the queue is Redis, otherwise rows in the SQLite queue file written
    under `BEGIN IMMEDIATE` (on this host's clock, the only host that can share that file).
    No table in the application database, so no migration.
    """

    def __init__(self, huey: Huey) -> None:
        storage = huey.storage
        self._prefix = f"{huey.name}.pace-slots."
        self._redis: Any = None
        self._script: Any = None
        self._filename: str | None = None
        if isinstance(storage, RedisStorage):
            self._redis = storage.conn
            self._script = self._redis.register_script(_PACE_LUA)
        elif isinstance(storage, SqliteStorage):
            self._filename = storage.filename
            self._local = threading.local()
            # This process's threads take turns here, so only other processes contend for the
            # file's write lock: SQLite's busy handler sleeps in steps of up to 100 ms, a
            # thread waiting here wakes as soon as the one before it commits.
            self._turn = threading.Lock()
            conn = self._sqlite()
            conn.execute(
                "CREATE TABLE IF NOT EXISTS regentra_pace_slots "
                "(key TEXT NOT NULL, at REAL NOT NULL)"
            )
            conn.execute(
                "CREATE INDEX IF NOT EXISTS regentra_pace_slots_key_at "
                "ON regentra_pace_slots (key, at)"
            )
        else:
            raise ConfigError(f"cannot pace calls on queue storage {type(storage).__name__}")

    def reserve(self, key: str, rate: float) -> float:
        """Reserve the next slot for `key`; returns seconds to wait before using it."""
        return self.reserve_all([(key, rate)])

    def reserve_all(self, limits: Sequence[tuple[str, float]]) -> float:
        """Reserve the earliest time every `(key, rate)` allows (at least 1/rate from each of
        that key's reserved times), in one round-trip. Returns seconds to wait before using it.
        Rates <= 0 do not limit."""
        paced = [(key, 1.0 / rate) for key, rate in limits if rate > 0]
        if not paced:
            return 0.0
        if self._script is not None:
            wait_us = self._script(
                keys=[self._prefix + key for key, _ in paced],
                args=[round(gap * 1e6) for _, gap in paced],
            )
            return max(0.0, int(wait_us) / 1e6)
        with self._turn:
            return self._reserve_sqlite(paced)

    def _reserve_sqlite(self, paced: list[tuple[str, float]]) -> float:
        conn = self._sqlite()
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()  # read under the write lock: slots are handed out in order
            taken = [
                (
                    gap,
                    [
                        at
                        for (at,) in conn.execute(
                            "SELECT at FROM regentra_pace_slots WHERE key = ? AND at > ?",
                            (key, now - gap),
                        )
                    ],
                )
                for key, gap in paced
            ]
            slot = earliest_slot(now, taken)
            conn.executemany(
                "INSERT INTO regentra_pace_slots (key, at) VALUES (?, ?)",
                [(key, slot) for key, _ in paced],
            )
            if random.random() < 0.01:  # noqa: S311 (housekeeping, not crypto)
                conn.execute("DELETE FROM regentra_pace_slots WHERE at < ?", (now - 60,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return slot - now

    def wait(self, key: str, rate: float) -> float:
        """Reserve a slot and sleep until it; returns the seconds slept."""
        return self.wait_all([(key, rate)])

    def wait_all(self, limits: Sequence[tuple[str, float]]) -> float:
        """Reserve a slot every `(key, rate)` allows (`reserve_all`) and sleep until it."""
        delay = self.reserve_all(limits)
        if delay > 0:
            time.sleep(delay)
        return delay

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self._filename is not None
            conn = sqlite3.connect(self._filename, timeout=30, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            # As Huey's own connections to this file (its default, fsync off): a slot lost to
            # a power cut only lets one call through early, which Stripe's 429 back-off covers.
            conn.execute("PRAGMA synchronous=OFF")
            self._local.conn = conn
        return conn


_PACERS: weakref.WeakKeyDictionary[Huey, Pacer] = weakref.WeakKeyDictionary()


def pacer(huey: Huey | None = None) -> Pacer:
    huey = huey or get_huey()
    with _lock:
        found = _PACERS.get(huey)
        if found is None:
            found = _PACERS[huey] = Pacer(huey)
        return found


def pace(key: str, rate: float) -> float:
    """Wait for `key`'s next slot at `rate` calls per second (shared by all processes)."""
    return pacer().wait(key, rate)


def pace_all(*limits: tuple[str, float]) -> float:
    """Wait for a slot that each `(key, rate)` allows, reserved in one round-trip (e.g. an
    account's pace and one endpoint's pace of that account)."""
    if not any(rate > 0 for _, rate in limits):
        return 0.0
    return pacer().wait_all(limits)
