"""Faults from RELIABILITY.md against real processes: each council still gets exactly one email."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from email.utils import parseaddr

import pytest

from tests.processes import CeleryProcess
from tests.services.api.helpers import council_body

pytestmark = pytest.mark.slow

# Metropolitan boroughs with their council email domains (all deliver every service).
COUNCILS = {
    "E08000035": "leeds.gov.uk",
    "E08000032": "bradford.gov.uk",
    "E08000034": "kirklees.gov.uk",
    "E08000036": "wakefield.gov.uk",
    "E08000033": "calderdale.gov.uk",
}


def submit_all(client) -> None:
    for gss, domain in COUNCILS.items():
        body = council_body(gss_code=gss, contact_email=f"lead@{domain}",
                            ratings={"waste": 2, "housing": 5})
        assert client.post("/api/v1/profiles", json=body).status_code == 201


def recommendation_emails(smtp) -> Counter:
    return Counter(parseaddr(m["To"])[1] for m in smtp.messages
                   if "recommendations" in m["Subject"])


def assert_one_email_each(smtp, settle: float, *workers: CeleryProcess) -> None:
    try:
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], count=len(COUNCILS),
                      timeout=60)
    except AssertionError as error:
        logs = "\n".join(w.log.read_text(errors="replace")[-6000:] for w in workers)
        raise AssertionError(f"{error}\n--- worker logs ---\n{logs}") from None
    time.sleep(settle)  # let redelivered and re-published duplicates arrive, if any would
    sent = recommendation_emails(smtp)
    assert sorted(sent) == sorted(f"lead@{d}" for d in COUNCILS.values())
    assert set(sent.values()) == {1}, sent


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

