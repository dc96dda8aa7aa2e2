"""Matching in batches (services/worker/tasks.py) against a real worker, on either database: the
match events waiting when a worker takes one are matched in one transaction; a poisoned profile
among them still ends alone in the dead letters; the tasks of events a batch consumed do nothing.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from partnermatch.shared.db.models import DeadLetter, MatchRun, OutboxEvent, TaskAttempt
from partnermatch.shared.outbox.names import match_key
from tests.processes import CeleryProcess
from tests.services.api.helpers import council_body
from tests.services.worker.faults import (
    COUNCILS,
    app_client,
    assert_one_email_each,
    one_run_each,
    recommendation_emails,
    sessions_of,
    submit_all,
    wait_until,
)

pytestmark = pytest.mark.slow

BATCHED = f"matching {len(COUNCILS)} events in one transaction"
POISON = "Our needs text that kills whatever matches it."


def _dialect(client) -> str:
    return sessions_of(client).kw["bind"].dialect.name


def _match_events(client) -> list[str]:
    with sessions_of(client)() as session:
        return list(session.scalars(select(OutboxEvent.id).where(
            OutboxEvent.topic.in_(("profile.submitted", "profile.updated")))))


def _attempts(client, event_ids: list[str]) -> list[int]:
    keys = {match_key(event_id): 0 for event_id in event_ids}
    with sessions_of(client)() as session:
        for row in session.scalars(select(TaskAttempt).where(TaskAttempt.task_key.in_(keys))):
            keys[row.task_key] = row.attempts
    return sorted(keys.values())


def test_waiting_match_events_are_matched_in_one_transaction(fault_env, smtp, tmp_path):
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "0"}
    app, client = app_client(env)
    worker = None
    try:
        submit_all(client)  # no worker yet: every match event waits
        worker = CeleryProcess.worker(env, tmp_path / "w.log", concurrency=1)
        assert_one_email_each(smtp, 2, worker)
        one_run_each(client, len(COUNCILS))
        events = _match_events(client)
        log = worker.log.read_text(errors="replace")
        for event_id in events:  # each event's own task ran too
            assert f'"event_id": "{event_id}"' in log
        assert log.count(BATCHED) == 1, log[-4000:]
        with sessions_of(client)() as session:
            # ranked by one index, caught up once: every run records the same moment
            assert session.scalar(select(func.count(func.distinct(MatchRun.indexed_at)))) == 1
            if _dialect(client) == "postgresql":  # rows one transaction wrote share its xmin
                writers = session.scalar(
                    text("SELECT count(DISTINCT xmin::text) FROM match_runs"))
                assert writers == 1
        # the batch counted one attempt for each event it took; each one's own task then
        # started once, found its event consumed and did nothing: no second run, no second email
        assert _attempts(client, events) == [1] + [2] * (len(events) - 1)
    finally:
        if worker is not None:
            worker.stop()
        app.extensions["partnermatch"].engine.dispose()


def test_a_poisoned_profile_in_a_batch_is_dead_lettered_alone(fault_env, smtp, tmp_path):
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "0", "TASK_MAX_ATTEMPTS": "2"}
    app, client = app_client(env)
    worker = None
    try:
        submit_all(client)
        poison = client.post("/api/v1/profiles", json=council_body(
            gss_code="E08000019", contact_email="lead@sheffield.gov.uk", needs_text=POISON))
        assert poison.status_code == 201
        # the poison's own task is queued last: the first task's batch takes the poison in
        worker = CeleryProcess.worker({**env, "TEST_POISON_NEEDS_TEXT": POISON},
                                      tmp_path / "w.log", concurrency=1)

        def dead_letter():
            with sessions_of(client)() as session:
                return session.scalar(select(DeadLetter))

        letter = wait_until(dead_letter, timeout=60, what="a dead letter")
        assert letter.task_name == "partnermatch.match_profile"
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], count=len(COUNCILS),
                      timeout=60)
        time.sleep(2)
        assert recommendation_emails(smtp) == Counter(f"lead@{d}" for d in COUNCILS.values())
        with sessions_of(client)() as session:
            statuses = Counter(session.scalars(select(MatchRun.status)))
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1
        assert statuses == Counter({"ready": len(COUNCILS), "failed": 1}), statuses
        assert letter.task_args == [next(e for e in _match_events(client)
                                         if _is_poison(client, e, poison.get_json()["id"]))]
        assert BATCHED.replace(str(len(COUNCILS)), str(len(COUNCILS) + 1)) in \
            worker.log.read_text(errors="replace")
        assert worker.process.poll() is None
    finally:
        if worker is not None:
            worker.stop()
        app.extensions["partnermatch"].engine.dispose()


def _is_poison(client, event_id: str, profile_id: str) -> bool:
    with sessions_of(client)() as session:
        return session.get(OutboxEvent, event_id).profile_id == profile_id
