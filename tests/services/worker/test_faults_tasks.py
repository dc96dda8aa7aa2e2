"""Faults of the tasks themselves from docs/reliability.md (F10, F11, F14, F15) against real
processes: an exception before commit, the same task published twice, a task past its time limit,
a profile that kills its process every time. Nothing accepted is lost and nothing is done twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime

import pytest
import redis
from sqlalchemy import func, select

from partnermatch.shared.db.models import DeadLetter, EmailDelivery, MatchRun, OutboxEvent, Profile
from partnermatch.shared.outbox.names import TaskName
from tests.processes import CeleryProcess, settings_of
from tests.services.api.helpers import council_body
from tests.services.worker.faults import (
    app_client,
    logs,
    one_run_each,
    recommendation_emails,
    sessions_of,
    wait_until,
)

pytestmark = pytest.mark.slow


# F10 -----------------------------------------------------------------------------------------

def test_exception_after_the_outbox_write_before_commit_leaves_nothing(
    fault_api, redis_server, smtp, monkeypatch
):
    import partnermatch.shared.profiles.submit as submit  # the use case the API calls

    def boom(*_args, **_kwargs):
        raise RuntimeError("injected failure after the outbox write")

    monkeypatch.setattr(submit, "owe_confirmation", boom)
    fault_api.application.config["PROPAGATE_EXCEPTIONS"] = False
    response = fault_api.post("/api/v1/profiles", json=council_body())
    assert response.status_code == 500
    fault_api.application.extensions["partnermatch"].publisher.wait_idle()
    time.sleep(0.5)
    with sessions_of(fault_api)() as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
        assert session.scalar(select(func.count()).select_from(EmailDelivery)) == 0
    held = redis.Redis.from_url(redis_server.url)
    assert held.llen("matching") == 0 and held.llen("email") == 0
    assert smtp.messages == []


# F11 -----------------------------------------------------------------------------------------

def test_the_same_match_task_published_twice_runs_once_and_emails_once(
    fault_api, fault_env, smtp, tmp_path
):
    from partnermatch.config.settings import load_settings
    from partnermatch.services.worker.app import create_celery

    # Duplicates beyond TASK_MAX_ATTEMPTS must find the work done, not dead-letter it.
    fault_env = {**fault_env, "TASK_MAX_ATTEMPTS": "2"}
    body = council_body(contact_email="lead@leeds.gov.uk")
    assert fault_api.post("/api/v1/profiles", json=body).status_code == 201
    fault_api.application.extensions["partnermatch"].publisher.wait_idle()
    with sessions_of(fault_api)() as session:
        event_id = session.scalar(select(OutboxEvent.id))
    celery = create_celery(load_settings(settings_of(fault_env)))
    for _ in range(2):  # the relay published again before it could mark the event published
        celery.send_task(TaskName.MATCH_PROFILE, args=[event_id])
    # and the relay itself will republish it again: the event is unpublished for it
    with sessions_of(fault_api)() as session:
        session.get(OutboxEvent, event_id).published_at = None
        session.commit()
    worker = CeleryProcess.worker(fault_env, tmp_path / "w.log")
    beat = CeleryProcess.beat(fault_env, tmp_path / "beat.log", tmp_path / "var")
    try:
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], timeout=30)
        time.sleep(5)  # the duplicates and a relay pass arrive
        assert recommendation_emails(smtp) == Counter({"lead@leeds.gov.uk": 1}), logs(worker)
        one_run_each(fault_api, 1)
        with sessions_of(fault_api)() as session:
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
            assert session.get(OutboxEvent, event_id).consumed_at is not None
    finally:
        beat.stop()
        worker.stop()


# F14 -----------------------------------------------------------------------------------------

def test_a_task_past_its_time_limit_fails_fast_and_is_dead_lettered_without_duplicates(
    fault_env, smtp, tmp_path
):
    # The relay's grace is above the hard limit, so it never republishes a run still going.
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "4", "TASK_SOFT_TIME_LIMIT": "2",
           "TASK_TIME_LIMIT": "3", "BROKER_VISIBILITY_TIMEOUT": "6", "TASK_MAX_ATTEMPTS": "2",
           "RELAY_GRACE_SECONDS": "4"}
    app, client = app_client(env)
    worker = CeleryProcess.worker(env, tmp_path / "w.log")
    beat = CeleryProcess.beat(env, tmp_path / "beat.log", tmp_path / "var")
    try:
        worker.wait_for_log(" ready.")
        response = client.post("/api/v1/profiles",
                               json=council_body(contact_email="lead@leeds.gov.uk"))
        assert response.status_code == 201

        def dead_letter():
            with sessions_of(client)() as session:
                return session.scalar(select(DeadLetter))

        letter = wait_until(dead_letter, timeout=40, what="a dead letter")
        assert letter.task_name == "partnermatch.match_profile"
        time.sleep(3)
        with sessions_of(client)() as session:
            statuses = session.scalars(select(MatchRun.status)).all()
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1
        assert statuses == ["failed"]
        assert smtp.messages == []
        log = worker.log.read_text(errors="replace")
        assert log.count("Soft time limit (2s) exceeded") == 2, log[-4000:]  # failed fast
        starts = [datetime.fromisoformat(json.loads(line)["ts"]) for line in log.splitlines()
                  if '"match started"' in line]
        assert len(starts) == 2, log[-4000:]  # one run per attempt
        assert (starts[1] - starts[0]).total_seconds() >= 2  # the second began after the first
    finally:
        beat.stop()
        worker.stop()
        app.extensions["partnermatch"].engine.dispose()


# F15 -----------------------------------------------------------------------------------------

POISON = "This text kills the matching process every time."


def test_poison_profile_that_kills_its_process_is_dead_lettered_while_others_flow(
    fault_env, smtp, tmp_path
):
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "0", "TASK_MAX_ATTEMPTS": "2"}
    app, client = app_client(env)
    # read from the worker's environment by tests/services/worker/fault_injection.py, not a setting
    worker_env = {**env, "TEST_POISON_NEEDS_TEXT": POISON}
    worker = CeleryProcess.worker(worker_env, tmp_path / "w.log")
    beat = CeleryProcess.beat(env, tmp_path / "beat.log", tmp_path / "var")
    try:
        poison = client.post("/api/v1/profiles", json=council_body(
            contact_email="lead@leeds.gov.uk", needs_text=POISON))
        assert poison.status_code == 201
        healthy = client.post("/api/v1/profiles", json=council_body(
            gss_code="E08000032", contact_email="lead@bradford.gov.uk"))
        assert healthy.status_code == 201
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], timeout=30)

        def dead_letter():
            with sessions_of(client)() as session:
                return session.scalar(select(DeadLetter))

        letter = wait_until(dead_letter, what="a dead letter")
        assert letter.task_name == "partnermatch.match_profile"
        time.sleep(3)  # no more attempts after the dead letter
        assert recommendation_emails(smtp) == Counter({"lead@bradford.gov.uk": 1})
        with sessions_of(client)() as session:
            statuses = dict(session.execute(select(MatchRun.profile_id, MatchRun.status)).all())
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1
        assert statuses == {poison.get_json()["id"]: "failed",
                            healthy.get_json()["id"]: "ready"}, statuses
        one_run_each(client, 2)
        assert worker.process.poll() is None  # the worker survived its pool's deaths
    finally:
        beat.stop()
        worker.stop()
        app.extensions["partnermatch"].engine.dispose()
