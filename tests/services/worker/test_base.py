"""The base task's skeleton in this process: attempts counted, retried, dead-lettered once.

Applied eagerly, a retry runs again at once (no backoff), so each test sees every attempt.
"""

from __future__ import annotations

import pytest
from celery import Celery
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from partnermatch.config.settings import load_settings
from partnermatch.services.worker import runtime
from partnermatch.services.worker.base import CRASH_LOOP, EventAttempts, WorkerTask
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import DeadLetter, OutboxEvent
from partnermatch.shared.outbox import events as outbox
from partnermatch.shared.outbox.attempts import bump_attempt
from partnermatch.shared.outbox.names import match_key

LIMIT = 3


@pytest.fixture
def celery(database_url, tmp_path):
    app = Celery("base-task-test", set_as_current=False)
    app.conf.partnermatch_settings = load_settings({
        "PARTNERMATCH_ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": "k",
        "VAR_DIR": str(tmp_path / "var"), "TASK_MAX_ATTEMPTS": str(LIMIT)})
    yield app
    runtime.close_runtime()


@pytest.fixture
def event_id(celery) -> str:
    with transaction(runtime.worker_runtime(celery).sessions) as session:
        event = OutboxEvent(topic="profile.deleted")
        session.add(event)
        session.flush()
        return event.id


def task_doing(celery, work):
    """A task consuming an event whose work is `work(task, event_id)`."""

    @celery.task(base=WorkerTask, bind=True, name="test.work", shared=False,
                 event_attempts=EventAttempts("work", outbox.consume))
    def run(self, event_id: str) -> str:
        return work(self, event_id)

    return run


def letters(celery) -> list[DeadLetter]:
    with runtime.worker_runtime(celery).sessions() as session:
        return list(session.scalars(select(DeadLetter)))


def consumed(celery, event_id: str) -> bool:
    with runtime.worker_runtime(celery).sessions() as session:
        return session.get(OutboxEvent, event_id).consumed_at is not None


def test_work_failing_every_time_is_retried_then_dead_lettered_once(celery, event_id):
    calls = []

    def fail(_task, _event_id):
        calls.append(1)
        raise ValueError("broken")

    assert task_doing(celery, fail).apply(args=[event_id]).get() == "dead-lettered"
    assert len(calls) == LIMIT
    [letter] = letters(celery)
    assert (letter.task_name, letter.task_key, letter.task_args) == (
        "test.work", match_key(event_id), [event_id])
    assert (letter.error, letter.attempts) == ("ValueError('broken')", LIMIT)
    assert consumed(celery, event_id)  # settled: the relay stops publishing it


def test_a_task_started_past_the_limit_gives_up_without_working(celery, event_id):
    for _ in range(LIMIT):  # each start killed its process before it could finish
        bump_attempt(runtime.worker_runtime(celery).sessions, match_key(event_id))
    calls = []
    task = task_doing(celery, lambda _task, _event_id: calls.append(1))
    assert task.apply(args=[event_id]).get() == "dead-lettered"
    assert calls == []
    [letter] = letters(celery)
    assert (letter.error, letter.attempts) == (CRASH_LOOP, LIMIT + 1)


def test_a_database_error_at_the_last_attempt_is_retried_not_dead_lettered_for_itself(
    celery, event_id
):
    def fail(task, _event_id):
        if task.request.retries < LIMIT - 1:
            raise ValueError("broken")
        raise OperationalError("SELECT 1", {}, Exception("connection lost"))

    assert task_doing(celery, fail).apply(args=[event_id]).get() == "dead-lettered"
    [letter] = letters(celery)  # the next start gave up: the limit still holds
    assert (letter.error, letter.attempts) == (CRASH_LOOP, LIMIT + 1)


def test_work_done_meanwhile_is_not_dead_lettered(celery, event_id):
    def finish_then_fail(task, event_id):
        with transaction(task.runtime.sessions) as session:
            outbox.consume(session, event_id)
        raise ValueError("after the commit")

    task = task_doing(celery, finish_then_fail)
    assert task.apply(args=[event_id]).get() == "already"
    assert letters(celery) == []


def test_a_task_without_event_attempts_just_works(celery):
    @celery.task(base=WorkerTask, bind=True, name="test.plain", shared=False)
    def plain(self, value: str) -> str:
        return f"{value} in {self.runtime.settings.PARTNERMATCH_ENV}"

    assert plain.apply(args=["done"]).get() == "done in test"
    assert plain("called") == "called in test"
