"""Tasks declared by stable name: the registry that `queue` (which registers them on the Huey
instance and sends them) and `periodic` (which schedules some of them) both read.

Declare tasks with `regentra.queue.task`, not here; this module only remembers them, so the
schedule can name a task without importing the queue that runs it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Huey registry keys are "<TASK_NAMESPACE>.<name>": stable whichever module declares the
# task, so a queued message survives a refactor.
TASK_NAMESPACE = "regentra.tasks"


@dataclass(frozen=True)
class TaskSpec:
    name: str
    fn: Callable[..., Any]
    retries: int
    retry_delay: float
    max_retry_delay: float

    def backoff(self, attempt: int) -> float:
        """Seconds before retry number `attempt` (1-based): exponential, with jitter."""
        ceiling = min(self.max_retry_delay, self.retry_delay * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not crypto)


_lock = threading.RLock()
_SPECS: dict[str, TaskSpec] = {}


def declare(spec: TaskSpec) -> None:
    """Remember `spec` under its name; ValueError if another function has the name."""
    with _lock:
        known = _SPECS.get(spec.name)
        if known is not None and _qualname(known.fn) != _qualname(spec.fn):
            raise ValueError(
                f"task name {spec.name!r} is already taken by {_qualname(known.fn)}; "
                "task names must be unique"
            )
        _SPECS[spec.name] = spec


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def find(name: str) -> TaskSpec | None:
    """The task declared as `name` so far, or None."""
    with _lock:
        return _SPECS.get(name)


def declared() -> list[TaskSpec]:
    """Every task declared so far."""
    with _lock:
        return list(_SPECS.values())


def unknown(name: str) -> LookupError:
    """The error for a name no task is declared as."""
    names = ", ".join(sorted(spec.name for spec in declared()))
    return LookupError(f"no task is declared as {name!r} (known: {names})")
