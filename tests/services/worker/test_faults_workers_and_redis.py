"""Faults of the worker and Redis processes from docs/reliability.md (F1 to F4, F16) against real
processes: SIGKILL of the pool or the whole worker mid-match, Redis restarted with tasks queued or
down while councils submit, SIGTERM of a worker mid-task. Each council still gets exactly one
email and each profile version one match run.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
import redis
from sqlalchemy import select

from partnermatch.config.settings import load_settings
from partnermatch.services.worker.app import create_celery
from partnermatch.shared.db.models import OutboxEvent, Profile
from partnermatch.shared.outbox.names import TaskName
from tests.processes import CeleryProcess, settings_of
from tests.services.api.helpers import council_body
from tests.services.worker.faults import (
    COUNCILS,
    assert_one_email_each,
    one_run_each,
    recommendation_emails,
    sessions_of,
    submit_all,
)

pytestmark = pytest.mark.slow


def test_sigkill_of_the_pool_process_mid_match_still_sends_one_email_each(
    fault_api, fault_env, smtp, beat, tmp_path
):
    worker = CeleryProcess.worker(fault_env, tmp_path / "w1.log")
    try:
        submit_all(fault_api)
        worker.wait_for_log("match started")
        time.sleep(0.5)
        for pid in worker.pool_pids():
            os.kill(pid, signal.SIGKILL)
        assert_one_email_each(smtp, 12, worker)
    finally:
        worker.stop()


def test_sigkill_of_the_whole_worker_mid_match_then_a_new_one(
    fault_api, fault_env, smtp, beat, tmp_path
):
    first = CeleryProcess.worker(fault_env, tmp_path / "w1.log", name="first")
    submit_all(fault_api)
    first.wait_for_log("match started")
    first.kill(signal.SIGKILL)
    second = CeleryProcess.worker(fault_env, tmp_path / "w2.log", name="second")
    try:
        assert_one_email_each(smtp, 12, first, second)
    finally:
        second.stop()


def test_redis_restarted_with_tasks_queued_loses_nothing(
    fault_api, fault_env, smtp, redis_server, tmp_path
):
    submit_all(fault_api)  # queued in Redis; no worker is running yet
    fault_api.application.extensions["partnermatch"].publisher.wait_idle()
    redis_server.restart()  # no AOF: the queue is gone
    worker = CeleryProcess.worker(fault_env, tmp_path / "w.log")
    beat = CeleryProcess.beat(fault_env, tmp_path / "beat.log", tmp_path / "var")
    try:
        assert_one_email_each(smtp, 5, worker)
    finally:
        beat.stop()
        worker.stop()


def test_worker_resumes_consuming_after_redis_restarts(
    fault_api, fault_env, smtp, redis_server, beat, tmp_path
):
    worker = CeleryProcess.worker(fault_env, tmp_path / "w.log")
    try:
        # A working worker, as in production: it has matched and emailed one council and goes
        # on with what followed when Redis goes (a real outage), so Redis may go with a task in
        # flight or between a task's end and the worker's next BRPOP.
        first, *others = COUNCILS.items()
        submit_all(fault_api, dict([first]))
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], timeout=60)
        redis_server.restart()
        submit_all(fault_api, dict(others))
        assert_one_email_each(smtp, 3, worker)
        assert worker.process.poll() is None  # the same worker process did the work
    finally:
        worker.stop()


def test_a_worker_not_scheduled_while_redis_restarts_notices_and_consumes_again(
    fault_env, redis_server, tmp_path
):
    """On a loaded machine Redis can go and come back before the worker next looks at its
    sockets; SIGSTOP of the worker's main process stands in for that load. Each time, Redis goes
    right after a task has ended, before the worker's next BRPOP. The worker must notice the lost
    connection and consume again: with the redis client retrying a failed read on the pub/sub
    connection, it reconnected there unsubscribed and waited on it for ever, consuming nothing
    and logging nothing (services/worker/broker.py)."""
    env = {**fault_env, "RESULT_BACKEND_URL": redis_server.url}  # a task's end is visible
    celery = create_celery(load_settings(settings_of(env)))
    worker = CeleryProcess.worker(env, tmp_path / "w.log")
    try:
        worker.wait_for_log(" ready.")
        run_a_task(celery, redis_server.url, worker)
        for _ in range(3):
            os.kill(worker.process.pid, signal.SIGSTOP)
            try:
                redis_server.restart()
            finally:
                os.kill(worker.process.pid, signal.SIGCONT)
            run_a_task(celery, redis_server.url, worker)
        assert worker.log.read_text().count("Connection to broker lost") >= 3  # noticed each time
        assert worker.process.poll() is None  # the same worker process did the work
    finally:
        worker.stop()


def run_a_task(celery, redis_url: str, worker: CeleryProcess) -> None:
    """Publish a no-op task and return as soon as the worker has stored its result."""
    key = f"celery-task-meta-{celery.send_task(TaskName.NOOP).id}"
    client = redis.Redis.from_url(redis_url, socket_timeout=1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.exists(key):
                return
        except redis.ConnectionError:
            pass
        time.sleep(0.005)
    raise AssertionError("the worker consumed nothing\n--- worker log ---\n"
                         + worker.log.read_text(errors="replace")[-6000:])


# F4 ------------------------------------------------------------------------------------------

def test_redis_down_while_submitting_is_accepted_fast_and_matched_when_it_returns(
    fault_api, fault_env, smtp, redis_server, tmp_path
):
    redis_server.stop()
    started = time.monotonic()
    response = fault_api.post("/api/v1/profiles",
                              json=council_body(contact_email="lead@leeds.gov.uk"))
    assert response.status_code == 201
    assert time.monotonic() - started < 2
    profile_id = response.get_json()["id"]
    with sessions_of(fault_api)() as session:
        assert session.get(Profile, profile_id) is not None
        event = session.scalar(select(OutboxEvent).where(OutboxEvent.profile_id == profile_id))
        assert event is not None and event.consumed_at is None
    redis_server.start()
    worker = CeleryProcess.worker(fault_env, tmp_path / "w.log")
    beat = CeleryProcess.beat(fault_env, tmp_path / "beat.log", tmp_path / "var")
    try:
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], timeout=30)
        time.sleep(3)
        assert recommendation_emails(smtp) == Counter({"lead@leeds.gov.uk": 1})
        one_run_each(fault_api, 1)
    finally:
        beat.stop()
        worker.stop()


# F16 -----------------------------------------------------------------------------------------

def test_sigterm_of_the_worker_mid_task_loses_nothing_and_duplicates_nothing(
    fault_api, fault_env, smtp, beat, tmp_path
):
    first = CeleryProcess.worker(fault_env, tmp_path / "w1.log", name="first")
    submit_all(fault_api)
    first.wait_for_log("match started")
    first.process.send_signal(signal.SIGTERM)  # a deploy: warm shutdown
    first.process.wait(timeout=30)
    second = CeleryProcess.worker(fault_env, tmp_path / "w2.log", name="second")
    try:
        assert_one_email_each(smtp, 5, first, second)
        one_run_each(fault_api, len(COUNCILS))
    finally:
        second.stop()
