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
from sqlalchemy import select

from partnermatch.shared.db.models import OutboxEvent, Profile
from tests.processes import CeleryProcess
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
        worker.wait_for_log(" ready.")
        time.sleep(2)  # a steady worker, as in production, not one still opening connections
        redis_server.restart()
        submit_all(fault_api)
        assert_one_email_each(smtp, 3, worker)
        assert worker.process.poll() is None  # the same worker process did the work
    finally:
        worker.stop()


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
