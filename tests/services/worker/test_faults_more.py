"""More faults from RELIABILITY.md (F4, F5, F6, F10, F11, F14, F15, F16) against real processes.

Each test checks that nothing accepted is lost and nothing is done twice: one match run per
profile version, one recommendation email per council.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from datetime import datetime

import pytest
import redis
from sqlalchemy import func, select

from partnermatch.services.api.app import create_app
from partnermatch.shared.db.models import DeadLetter, EmailDelivery, MatchRun, OutboxEvent, Profile
from tests.processes import CeleryProcess
from tests.services.api.helpers import council_body
from tests.services.worker.conftest import FAULT_OPS_TOKEN as OPS_TOKEN
from tests.services.worker.test_faults import (
    COUNCILS,
    assert_one_email_each,
    recommendation_emails,
    submit_all,
)

pytestmark = pytest.mark.slow


def wait_until(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not met in time")


def sessions_of(client):
    return client.application.extensions["partnermatch"].sessions


def match_runs(client) -> Counter:
    """Match runs per (profile, version)."""
    with sessions_of(client)() as session:
        rows = session.execute(select(MatchRun.profile_id, MatchRun.profile_version)).all()
    return Counter(tuple(row) for row in rows)


def one_run_each(client, expected: int) -> None:
    runs = match_runs(client)
    assert len(runs) == expected and set(runs.values()) == {1}, runs


def figures(client) -> dict:
    response = client.get("/ops/figures.json", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert response.status_code == 200
    return response.get_json()


def logs(*workers: CeleryProcess) -> str:
    return "\n".join(w.log.read_text(errors="replace")[-6000:] for w in workers)


def app_client(env: dict[str, str]):
    app = create_app({**env, "OPS_TOKEN": OPS_TOKEN})
    return app, app.test_client()


# F10 -----------------------------------------------------------------------------------------

def test_exception_after_the_outbox_write_before_commit_leaves_nothing(
    fault_api, redis_server, smtp, monkeypatch
):
    import partnermatch.services.api.profiles as api_profiles

    def boom(*_args, **_kwargs):
        raise RuntimeError("injected failure after the outbox write")

    monkeypatch.setattr(api_profiles, "owe_confirmation", boom)
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
    celery = create_celery(load_settings(fault_env))
    for _ in range(2):  # the relay published again before it could mark the event published
        celery.send_task("partnermatch.match_profile", args=[event_id])
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


# F5 ------------------------------------------------------------------------------------------

def test_smtp_refusing_for_a_while_is_retried_with_backoff_then_sent_once(
    fault_env, smtp, tmp_path
):
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "0", "EMAIL_RETRY_BASE_SECONDS": "0.5",
           "EMAIL_RETRY_MAX_SECONDS": "2", "EMAIL_MAX_ATTEMPTS": "10"}
    app, client = app_client(env)
    smtp.refuse_with = "451 4.3.0 try later"
    worker = CeleryProcess.worker(env, tmp_path / "w.log")
    beat = CeleryProcess.beat(env, tmp_path / "beat.log", tmp_path / "var")
    try:
        body = council_body(contact_email="lead@leeds.gov.uk")
        assert client.post("/api/v1/profiles", json=body).status_code == 201

        def attempts():
            with sessions_of(client)() as session:
                return session.scalar(select(EmailDelivery.attempts)) or 0

        wait_until(lambda: attempts() >= 3, what="three refused attempts")
        with sessions_of(client)() as session:
            delivery = session.scalar(select(EmailDelivery))
            assert delivery.status in ("pending", "sending") and "451" in delivery.last_error
        assert smtp.messages == []
        smtp.refuse_with = None
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], timeout=30)
        time.sleep(4)  # relay passes: nothing is sent again
        assert recommendation_emails(smtp) == Counter({"lead@leeds.gov.uk": 1})
        with sessions_of(client)() as session:
            delivery = session.scalar(select(EmailDelivery))
            assert delivery.status == "sent" and delivery.attempts > 1
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
        one_run_each(client, 1)
    finally:
        beat.stop()
        worker.stop()
        app.extensions["partnermatch"].engine.dispose()


def test_smtp_that_never_returns_dead_letters_the_email_and_raises_the_ops_alert(
    fault_env, smtp, tmp_path
):
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "0", "EMAIL_MAX_ATTEMPTS": "2"}
    app, client = app_client(env)
    smtp.refuse_with = "451 4.3.0 try later"
    worker = CeleryProcess.worker(env, tmp_path / "w.log")
    beat = CeleryProcess.beat(env, tmp_path / "beat.log", tmp_path / "var")
    try:
        body = council_body(contact_email="lead@leeds.gov.uk")
        assert client.post("/api/v1/profiles", json=body).status_code == 201

        def dead_letter():
            with sessions_of(client)() as session:
                return session.scalar(select(DeadLetter))

        letter = wait_until(dead_letter, what="a dead letter")
        assert "451" in letter.error
        time.sleep(3)  # relay passes: no more attempts
        with sessions_of(client)() as session:
            delivery = session.scalar(select(EmailDelivery))
            assert delivery.status == "failed" and delivery.attempts == 2
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1
        assert smtp.messages == []
        current = figures(client)
        assert current["dead_letters"] == 1 and "dead_letters" in current["alerts"]
        one_run_each(client, 1)
    finally:
        beat.stop()
        worker.stop()
        app.extensions["partnermatch"].engine.dispose()


# F6 ------------------------------------------------------------------------------------------

def test_smtp_hanging_up_before_the_final_reply_is_ambiguous_and_never_resent(
    fault_env, smtp, tmp_path
):
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "0"}
    app, client = app_client(env)
    received = []

    async def hang_up_after_data(server, session, envelope):
        received.append(envelope)
        server.transport.abort()  # every byte arrived; the client never sees the 250
        return "250 OK"

    smtp.handle_DATA = hang_up_after_data  # looked up per connection by aiosmtpd
    worker = CeleryProcess.worker(env, tmp_path / "w.log")
    beat = CeleryProcess.beat(env, tmp_path / "beat.log", tmp_path / "var")
    try:
        body = council_body(contact_email="lead@leeds.gov.uk")
        assert client.post("/api/v1/profiles", json=body).status_code == 201

        def status():
            with sessions_of(client)() as session:
                return session.scalar(select(EmailDelivery.status))

        wait_until(lambda: status() == "ambiguous", what="an ambiguous delivery")
        time.sleep(5)  # several relay passes: never resent automatically
        assert len(received) == 1
        with sessions_of(client)() as session:
            delivery = session.scalar(select(EmailDelivery))
            assert delivery.status == "ambiguous" and delivery.attempts == 1
            assert delivery.message_id
        current = figures(client)
        assert current["deliveries"]["ambiguous"] == 1 and current["dead_letters"] == 1
        one_run_each(client, 1)
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
    # read from the worker's environment by services/worker/tasks.py, not a setting
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
