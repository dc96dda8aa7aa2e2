"""Refresh passes one at a time (services/worker/tasks.py): on PostgreSQL a pass that finds another
running does not wait for it; it leaves its event to the running pass, which publishes a successor
for every refresh event still waiting once it lets go, so none is left unconsumed.
"""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
import redis
from sqlalchemy import create_engine, select, text

from partnermatch.config.settings import load_settings
from partnermatch.services.worker import runtime
from partnermatch.services.worker.app import create_celery
from partnermatch.services.worker.tasks import REFRESH_PASS_LOCK
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import OutboxEvent, TaskAttempt
from partnermatch.shared.outbox.events import REFRESH_TOPIC
from partnermatch.shared.outbox.names import TaskName, match_key

QUEUES = ("matching", "email", "events")


@pytest.fixture
def any_celery(database_url, redis_server, tmp_path):
    app = create_celery(load_settings({
        "PARTNERMATCH_ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": "k",
        "REDIS_URL": redis_server.url, "VAR_DIR": str(tmp_path / "var"),
        # a pass that still waited for the lock would give up after a second and run beside
        "TASK_SOFT_TIME_LIMIT": "4", "TASK_TIME_LIMIT": "6"}))
    app.loader.import_default_modules()
    yield app
    runtime.close_runtime()


@pytest.fixture
def celery(any_celery, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("an advisory lock is PostgreSQL's; SQLite's passes run side by side")
    return any_celery


def add_refresh_event(celery) -> str:
    """A refresh event as a match writes it (its profile gone: a pass finds nothing to re-rank)."""
    with transaction(runtime.worker_runtime(celery).sessions) as session:
        event = OutboxEvent(topic=REFRESH_TOPIC)
        session.add(event)
        session.flush()
        return event.id


def refresh(celery, event_id: str) -> str:
    return celery.tasks[TaskName.REFRESH_PARTNERS.value].apply(args=[event_id]).get()


def consumed(celery, event_id: str) -> bool:
    with runtime.worker_runtime(celery).sessions() as session:
        return session.get(OutboxEvent, event_id).consumed_at is not None


def queued_refreshes(redis_url: str) -> list[str]:
    """Return the event ids of the refresh tasks waiting in the Celery queues, taking them."""
    client = redis.Redis.from_url(redis_url)
    ids = []
    for queue in QUEUES:
        while (raw := client.lpop(queue)) is not None:
            message = json.loads(raw)
            if message["headers"]["task"] == TaskName.REFRESH_PARTNERS.value:
                args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
                ids.extend(args)
    client.close()
    return ids


def test_a_refresh_task_runs_a_pass_that_takes_its_event_and_publishes_no_successor(
    any_celery, redis_server
):
    event_id = add_refresh_event(any_celery)
    assert queued_refreshes(redis_server.url) == [event_id]  # published at the commit
    assert refresh(any_celery, event_id) == "not strong"  # on SQLite too, where there is no lock
    assert consumed(any_celery, event_id)
    assert queued_refreshes(redis_server.url) == []  # nothing left waiting


def test_a_refresh_pass_finding_another_running_leaves_its_event_to_it_without_waiting(
    celery, database_url
):
    event_id = add_refresh_event(celery)
    other = create_engine(database_url)
    with other.connect() as running:  # another process's pass, holding the lock throughout
        assert running.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": REFRESH_PASS_LOCK})
        outcome = refresh(celery, event_id)  # a pass that waited would return only after
        still_held = running.scalar(  # the lock is still the other pass's
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND pid = pg_backend_pid()"))
        running.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": REFRESH_PASS_LOCK})
    other.dispose()
    assert outcome == "busy"
    assert still_held == 1
    assert not consumed(celery, event_id)  # left to the running pass (or its successor)
    with runtime.worker_runtime(celery).sessions() as session:  # turned away is not a failure:
        assert session.get(TaskAttempt, match_key(event_id)) is None  # never dead-lettered


def test_no_refresh_event_is_stranded_when_two_passes_overlap(celery, database_url, redis_server):
    """Pass A reads the waiting events; then event B is written and its task, finding A still
    running, is turned away. A's successor must take B."""
    first = add_refresh_event(celery)
    other = create_engine(database_url)
    outcomes = {}
    with other.connect() as holder:
        # Hold pass A at its last step (consuming its events) until B's task has been turned away
        holder.execute(select(OutboxEvent.id).where(OutboxEvent.id == first).with_for_update())
        pass_a = threading.Thread(target=lambda: outcomes.update(a=refresh(celery, first)))
        pass_a.start()
        while not holder.scalar(text(  # A holds the lock and waits for the row
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid <> pg_backend_pid()")) or not holder.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")):
            time.sleep(0.05)
        second = add_refresh_event(celery)  # written just as A finishes, after A read the waiting
        pass_b = threading.Thread(target=lambda: outcomes.update(b=refresh(celery, second)))
        pass_b.start()
        pass_b.join(timeout=60)  # a pass that waited for A would wait here for ever (A waits on us)
        turned_away = not pass_b.is_alive()
        own_tasks = queued_refreshes(redis_server.url)  # published at each commit: run above
        holder.rollback()  # A carries on
        pass_a.join()
        pass_b.join()
    other.dispose()
    assert turned_away
    assert sorted(own_tasks) == sorted([first, second])
    assert outcomes == {"a": "not strong", "b": "busy"}
    assert consumed(celery, first) and not consumed(celery, second)

    successors = queued_refreshes(redis_server.url)  # what A published once it let go
    assert successors == [second]
    assert refresh(celery, second) == "not strong"  # the successor pass takes B
    assert consumed(celery, second)
    assert queued_refreshes(redis_server.url) == []  # and, nothing waiting, publishes none


def test_a_transaction_owing_several_refreshes_publishes_one_pass_that_takes_them_all(
    any_celery, redis_server
):
    celery = any_celery
    with transaction(runtime.worker_runtime(celery).sessions) as session:  # a batch of matches
        events = [OutboxEvent(topic=REFRESH_TOPIC) for _ in range(3)]
        session.add_all(events)
        session.flush()
        event_ids = [event.id for event in events]
    published = queued_refreshes(redis_server.url)
    assert len(published) == 1 and published[0] in event_ids
    assert refresh(celery, published[0]) == "not strong"
    assert all(consumed(celery, event_id) for event_id in event_ids)
    assert queued_refreshes(redis_server.url) == []
