"""Refresh passes one at a time (services/worker/tasks.py): on PostgreSQL a pass waits for the one
running, which takes every refresh event waiting, rather than re-ranking the same runs beside it.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from partnermatch.config.settings import load_settings
from partnermatch.services.worker import runtime
from partnermatch.services.worker.app import create_celery
from partnermatch.services.worker.tasks import REFRESH_PASS_LOCK
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import OutboxEvent, utcnow
from partnermatch.shared.outbox.events import REFRESH_TOPIC
from partnermatch.shared.outbox.names import TaskName


@pytest.fixture
def celery(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("an advisory lock is PostgreSQL's; SQLite's passes run side by side")
    app = create_celery(load_settings({
        "PARTNERMATCH_ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": "k",
        "VAR_DIR": str(tmp_path / "var")}))
    app.loader.import_default_modules()
    yield app
    runtime.close_runtime()


def test_a_refresh_pass_waits_for_the_pass_running_then_finds_its_event_consumed(
    celery, database_url
):
    with transaction(runtime.worker_runtime(celery).sessions) as session:
        event = OutboxEvent(topic=REFRESH_TOPIC)
        session.add(event)
        session.flush()
        event_id = event.id
    other = create_engine(database_url)
    released = {}
    with other.connect() as running:  # another process's pass, holding the lock
        assert running.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": REFRESH_PASS_LOCK})

        def finish_the_running_pass():
            time.sleep(1)
            with transaction(runtime.worker_runtime(celery).sessions) as session:
                session.get(OutboxEvent, event_id).consumed_at = utcnow()  # it took this one
            released["at"] = time.monotonic()
            running.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": REFRESH_PASS_LOCK})

        finisher = threading.Thread(target=finish_the_running_pass)
        finisher.start()
        task = celery.tasks[TaskName.REFRESH_PARTNERS.value]
        outcome = task.apply(args=[event_id]).get()
        done_at = time.monotonic()
        finisher.join()
    other.dispose()
    assert outcome == "already"  # it waited, then found the work done
    assert done_at >= released["at"]
