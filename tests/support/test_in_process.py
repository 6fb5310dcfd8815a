"""The in-process test harness itself: each test's transaction is rolled back, sessions
commit and roll back through savepoints as in production, jobs enqueued after commit run
through `run_tasks`, and a second thread on the test's connection is refused."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from sqlalchemy import func, select, text, update

from regentra.db import session_scope
from regentra.models import Org
from regentra.queue import enqueue, task


def test_nothing_made_in_process_is_ever_committed(make_org: Any, rollback_database: Any) -> None:
    """Every in-process test of this backend shares `rollback_database`: seen from a
    connection of its own, it holds no org at all, not even the one this test just made and
    sees through the app."""
    kit = make_org("Harness Org")
    with kit.api() as api:
        assert api.get("/org").json()["name"] == "Harness Org"
    # A DB-API connection of its own: no BEGIN IMMEDIATE (SQLite's readers never wait).
    outside = rollback_database.engine.raw_connection()
    try:
        cursor = outside.cursor()
        cursor.execute("SELECT count(*) FROM orgs")
        assert cursor.fetchone()[0] == 0
    finally:
        outside.close()


def test_rollback_undoes_only_the_sessions_own_work(make_org: Any) -> None:
    kit = make_org()
    with kit.db.session() as s:
        s.execute(text("UPDATE orgs SET name = 'Renamed' WHERE id = :id"), {"id": kit.org.id.hex})
        s.rollback()
    with session_scope() as s:  # the product's own unit of work joins the same transaction
        assert s.scalar(select(Org.name).where(Org.id == kit.org.id)) != "Renamed"
        assert s.scalar(select(func.count()).select_from(Org).where(Org.id == kit.org.id)) == 1


@task("test.harness.rename")
def rename(org_id: str, name: str) -> None:
    with session_scope() as s:
        s.execute(update(Org).where(Org.id == uuid.UUID(org_id)).values(name=name))


def test_jobs_enqueued_after_commit_run_on_the_tests_transaction(
    make_org: Any, run_tasks: Any
) -> None:
    kit = make_org("Before")
    with session_scope() as s:
        enqueue(s, "test.harness.rename", str(kit.org.id), "Never")
        s.rollback()  # rolled back: nothing is sent
    with session_scope() as s:
        enqueue(s, "test.harness.rename", str(kit.org.id), "After")
    assert run_tasks() == ["test.harness.rename"]
    assert run_tasks() == []
    with kit.api() as api:
        assert api.get("/org").json()["name"] == "After"


def test_a_second_thread_on_the_connection_is_refused(db: Any) -> None:
    with db.session() as s:
        guard = s.connection().info["regentra.test.guard"]
        guard.enter()  # as if a statement of this thread were running
        errors: list[str] = []

        def other() -> None:
            try:
                with db.session() as s2:
                    s2.execute(text("SELECT 1"))
            except RuntimeError as exc:
                errors.append(str(exc))

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert errors and "needs real servers" in errors[0] and "e2e" in errors[0]
        assert guard.lock.locked()  # the refusal did not free this thread's statement
        guard.leave()
        assert s.execute(text("SELECT 1")).scalar() == 1
