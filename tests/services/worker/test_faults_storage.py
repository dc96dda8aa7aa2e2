"""Storage faults from RELIABILITY.md against real processes: F3 with AOF, F8 and F9.

F8 on PostgreSQL. The API reaches PostgreSQL through the same TCP proxy, cut while a council
submits through the API and through the form: 503 with Retry-After (the form a GOV.UK page saying
nothing was saved), nothing in Redis; restored, the same API answers 201 without a restart.

F3 with AOF. Production's Redis runs with `appendonly yes` (docker-compose.yml, and `partnermatch
run`), so every test here gets such a redis-server. Without AOF
(test_faults_workers_and_redis.py) the queue is lost and the relay re-publishes from the outbox;
with AOF the queued messages themselves survive a SIGKILL of redis-server. The test shows that
difference: the queue length is the same after the restart, and the work is done with no beat
running, so no relay pass can have re-published it (every event's publish_count stays 0).

F9 on PostgreSQL. The worker reaches PostgreSQL through a TCP proxy (tests/processes.py TcpProxy)
that cuts every connection and refuses new ones at a chosen point of the worker's conversation:
  - after the match run's row is written (INSERT INTO match_runs) and as the recommendations are
    sent: the half-written result set exists only in the open transaction, and the database stays
    down for longer than the task's first retry countdown;
  - just after COMMIT reaches the server, before its answer reaches the worker: the result is
    stored, but the worker cannot know, and retries.
Either way: the task is retried (its attempt counter passes 1), one match run for the profile
version with every recommendation an undisturbed match of the same profile makes, one email, no
dead letter.

F9 on SQLite. SQLite is a library inside the worker process: there is no server to go down and no
connection to lose in the middle of a transaction. The worker dying mid-transaction is F1/F2
(test_faults_workers_and_redis.py), where SQLite's journal rolls the transaction back. What can
happen to a live worker is the database refusing it: another process holding the write lock for
longer than the busy timeout (15 s), which ends the match's transaction with "database is
locked". That is the
SQLite variant here: it must be retried like a lost PostgreSQL connection, with the same outcome.

The relay runs in the worker, so while the database is down it cannot re-publish anything either;
the tests run beat as production does and allow either path back: the task's own retry, or, when
the retry finds the database still down before it can count its attempt, the relay's re-publish.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from partnermatch.shared.db.models import (
    DeadLetter,
    EmailDelivery,
    MatchRun,
    NeedRecommendations,
    OutboxEvent,
    Profile,
    TaskAttempt,
)
from partnermatch.shared.recommendations.consume import PARTNERS_KEPT_PER_NEED
from partnermatch.shared.recommendations.live_index import CandidateIndex, request_from
from tests.processes import CeleryProcess, TcpProxy, settings_of
from tests.services.api.helpers import council_body
from tests.services.worker.faults import (
    COUNCILS,
    assert_one_email_each,
    logs,
    one_run_each,
    recommendation_emails,
    sessions_of,
    submit_all,
    wait_until,
)

# Every test here runs on a redis-server with an append-only file, as in production.
pytestmark = [pytest.mark.slow, pytest.mark.redis_append_only]

ON_POSTGRESQL = pytest.mark.parametrize("seeded_database", ["postgresql"], indirect=True)
ON_SQLITE = pytest.mark.parametrize("seeded_database", ["sqlite"], indirect=True)

LEEDS = "lead@leeds.gov.uk"


# F3 with AOF ---------------------------------------------------------------------------------

def test_redis_with_aof_restarted_with_tasks_queued_keeps_the_messages_themselves(
    fault_api, fault_env, smtp, redis_server, tmp_path
):
    submit_all(fault_api)  # queued in Redis; no worker is running yet
    assert fault_api.application.extensions["partnermatch"].publisher.wait_idle(30)
    broker = redis.Redis.from_url(redis_server.url)
    queued = broker.llen("matching")
    assert queued == len(COUNCILS)
    broker.close()

    redis_server.restart()  # SIGKILL, then a new redis-server reading the append-only file
    broker = redis.Redis.from_url(redis_server.url)
    assert broker.llen("matching") == queued  # the messages themselves survived
    broker.close()

    # No beat: no relay pass can re-publish anything, so only the surviving messages can be
    # matched and emailed here.
    worker = CeleryProcess.worker(fault_env, tmp_path / "w.log")
    beat = None
    try:
        assert_one_email_each(smtp, 3, worker)
        one_run_each(fault_api, len(COUNCILS))
        assert publish_counts(fault_api) == {0}

        # The same worker goes on consuming after another restart.
        worker.wait_for_log(" ready.")
        redis_server.restart()
        body = council_body(gss_code="E08000016", contact_email="lead@barnsley.gov.uk",
                            ratings={"waste": 2, "housing": 5})
        assert fault_api.post("/api/v1/profiles", json=body).status_code == 201
        try:
            smtp.wait_for(lambda m: "barnsley" in m["To"], timeout=90)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{logs(worker)}") from None
        assert worker.process.poll() is None  # the same worker process did the work

        beat = CeleryProcess.beat(fault_env, tmp_path / "beat.log", tmp_path / "var")
        wait_until(lambda: list((tmp_path / "var").glob("celerybeat-schedule*")),
                   what="beat's schedule file")
        time.sleep(5)  # relay passes (one a second) find everything done: nothing sent twice
        sent = recommendation_emails(smtp)
        assert set(sent.values()) == {1} and len(sent) == len(COUNCILS) + 1, sent
        one_run_each(fault_api, len(COUNCILS) + 1)
        assert publish_counts(fault_api) == {0}
    finally:
        if beat is not None:
            beat.stop()
        worker.stop()


def publish_counts(client) -> set[int]:
    """How many times the relay re-published each event (the API's own publish is not counted)."""
    with sessions_of(client)() as session:
        events = session.scalars(select(OutboxEvent)).all()
        assert events and all(e.consumed_at is not None for e in events)
        return {e.publish_count for e in events}


# F9 ------------------------------------------------------------------------------------------

@pytest.fixture
def db_proxy(database_url):
    url = make_url(database_url)
    proxy = TcpProxy(url.port or 5432, url.host or "127.0.0.1")
    yield proxy
    proxy.close()


def start_services(env: dict[str, str], tmp_path) -> tuple[CeleryProcess, CeleryProcess]:
    worker = CeleryProcess.worker(env, tmp_path / "w.log")
    beat = CeleryProcess.beat(env, tmp_path / "beat.log", tmp_path / "var")
    return worker, beat


def submit_leeds(client) -> tuple[str, str]:
    """Submit a profile; return its id and the id of the event that asks for its match."""
    response = client.post("/api/v1/profiles", json=council_body(contact_email=LEEDS))
    assert response.status_code == 201
    profile_id = response.get_json()["id"]
    with sessions_of(client)() as session:
        event_id = session.scalar(select(OutboxEvent.id)
                                  .where(OutboxEvent.profile_id == profile_id))
    return profile_id, event_id


def undisturbed_match(client, profile_id: str) -> list[tuple]:
    """The recommendations a match of the profile makes with nothing going wrong."""
    with sessions_of(client)() as session:
        profile = session.get(Profile, profile_id)
        needs = CandidateIndex(session).index.match(request_from(profile),
                                                    limit=PARTNERS_KEPT_PER_NEED)
    return sorted((need.service_area, rank, partner.profile_id)
                  for need in needs for rank, partner in enumerate(need.partners, start=1))


def stored_match(client, profile_id: str) -> list[tuple]:
    """The one match run stored for the profile's version, as its recommendations."""
    with sessions_of(client)() as session:
        version = session.get(Profile, profile_id).version
        runs = session.scalars(select(MatchRun).where(MatchRun.profile_id == profile_id)).all()
        assert [(r.profile_version, r.status) for r in runs] == [(version, "ready")], runs
        rows = [(r.service_area, r.rank, r.partner_profile_id) for r in runs[0].recommendations]
    return sorted(rows)


def assert_matched_once_after_retry(client, smtp, profile_id: str, event_id: str,
                                    *processes: CeleryProcess) -> None:
    try:
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], timeout=90)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{logs(*processes)}") from None
    time.sleep(5)  # retries, redeliveries and relay passes arrive, if any would
    assert recommendation_emails(smtp) == Counter({LEEDS: 1}), logs(*processes)
    expected = undisturbed_match(client, profile_id)
    assert len({area for area, _, _ in expected}) >= 2 and len(expected) > 10  # a real result
    assert stored_match(client, profile_id) == expected  # the whole set, not part of it
    one_run_each(client, 1)
    with sessions_of(client)() as session:
        attempts = session.get(TaskAttempt, f"match:{event_id}").attempts
        assert attempts > 1, logs(*processes)  # retried
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
        assert session.get(OutboxEvent, event_id).consumed_at is not None
        assert session.scalar(select(EmailDelivery.status)) == "sent"


def nothing_stored(client, profile_id: str) -> bool:
    """No run, no recommendation, the event not consumed (read without taking a write lock)."""
    with client.application.extensions["partnermatch"].read_sessions() as session:
        runs = session.scalar(select(func.count()).select_from(MatchRun)
                              .where(MatchRun.profile_id == profile_id))
        recommendations = session.scalar(select(func.count()).select_from(NeedRecommendations))
        consumed = session.scalar(select(OutboxEvent.consumed_at)
                                  .where(OutboxEvent.profile_id == profile_id))
    return runs == 0 and recommendations == 0 and consumed is None


@ON_POSTGRESQL
def test_database_lost_after_the_run_row_is_written_is_retried_with_no_half_written_run(
    fault_api, fault_env, smtp, demo_candidates, db_proxy, tmp_path
):
    env = {**fault_env, "DATABASE_URL": db_proxy.url_for(fault_env["DATABASE_URL"]),
           "TEST_MATCH_DELAY_SECONDS": "0"}
    # Cut as the recommendations follow the run's row into the open transaction.
    db_proxy.cut_when(b"INSERT INTO match_runs", b"INSERT INTO recommendations")
    worker, beat = start_services(env, tmp_path)
    try:
        profile_id, event_id = submit_leeds(fault_api)
        assert db_proxy.tripped.wait(90), logs(worker)
        time.sleep(1)
        assert nothing_stored(fault_api, profile_id)  # the half-written run was rolled back
        time.sleep(5)  # down for longer than the first retry's countdown (at most 3 s)
        assert nothing_stored(fault_api, profile_id)
        assert smtp.messages == []
        db_proxy.restore()
        assert_matched_once_after_retry(fault_api, smtp, profile_id, event_id, worker, beat)
    finally:
        beat.stop()
        worker.stop()


@ON_POSTGRESQL
def test_database_lost_as_the_match_commits_is_retried_and_emails_once(
    fault_api, fault_env, smtp, demo_candidates, db_proxy, tmp_path
):
    env = {**fault_env, "DATABASE_URL": db_proxy.url_for(fault_env["DATABASE_URL"]),
           "TEST_MATCH_DELAY_SECONDS": "0"}
    # COMMIT reaches the server; the connection goes before the worker hears the answer.
    db_proxy.cut_when(b"INSERT INTO recommendations", b"COMMIT\x00", deliver_last=True)
    worker, beat = start_services(env, tmp_path)
    try:
        profile_id, event_id = submit_leeds(fault_api)
        assert db_proxy.tripped.wait(90), logs(worker)
        db_proxy.restore()  # back before the retry's countdown (at least 1 s) runs out
        # Stored by the first attempt (a retry finds the event consumed and stores no run),
        # though the worker never heard so.
        assert not nothing_stored(fault_api, profile_id)
        assert_matched_once_after_retry(fault_api, smtp, profile_id, event_id, worker, beat)
    finally:
        beat.stop()
        worker.stop()


def retry_in_broker(redis_url: str) -> bool:
    """Whether a retry of a match (its message, counted in `retries`) is queued or being held.

    The worker logs retries at INFO on a logger it keeps at WARNING, so the broker is where a
    retry shows: an ETA message waits in the queue, or among the worker's unacknowledged ones.
    """
    broker = redis.Redis.from_url(redis_url)
    try:
        raw = broker.lrange("matching", 0, -1) + broker.hvals("unacked")
    finally:
        broker.close()
    return any(b"partnermatch.match_profile" in message
               and re.search(rb'"retries": [1-9]', message) for message in raw)


@ON_SQLITE
def test_sqlite_locked_past_the_busy_timeout_mid_match_is_retried_with_one_result(
    fault_api, fault_env, smtp, demo_candidates, redis_server, tmp_path
):
    # Room for a match to wait out the 15 s busy timeout within its time limit.
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "6", "TASK_SOFT_TIME_LIMIT": "30",
           "TASK_TIME_LIMIT": "35", "BROKER_VISIBILITY_TIMEOUT": "45"}
    worker, beat = start_services(env, tmp_path)
    lock = sqlite3.connect(make_url(env["DATABASE_URL"]).database, timeout=15,
                           isolation_level=None)
    try:
        profile_id, event_id = submit_leeds(fault_api)
        worker.wait_for_log("match started", timeout=90)
        lock.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        assert nothing_stored(fault_api, profile_id), "locked too late: the match had written"
        try:
            # "database is locked" after the 15 s busy timeout, and the task retries
            wait_until(lambda: retry_in_broker(redis_server.url), timeout=90,
                       what="a retry of the match")
            assert nothing_stored(fault_api, profile_id)
        finally:
            lock.execute("ROLLBACK")
        assert_matched_once_after_retry(fault_api, smtp, profile_id, event_id, worker, beat)
    finally:
        lock.close()
        beat.stop()
        worker.stop()


# F8 ------------------------------------------------------------------------------------------

@ON_POSTGRESQL
def test_database_down_on_submit_is_503_publishes_nothing_and_recovers_by_itself(
    fault_env, redis_server, db_proxy, database_url
):
    from partnermatch.services.api.app import create_app
    from tests.services.api.web_helpers import csrf_token, fill_council_form

    app = create_app({**settings_of(fault_env), "DATABASE_URL": db_proxy.url_for(database_url)})
    api, browser = app.test_client(), app.test_client()
    assert fill_council_form(browser).status_code == 303  # the answers are kept while it is up
    check = browser.get("/check").get_data(as_text=True)
    accept = {"csrf_token": csrf_token(check),
              "submission_key": re.search(r'name="submission_key" value="([^"]+)"',
                                          check).group(1)}

    db_proxy.cut()
    refused = api.post("/api/v1/profiles", json=council_body())
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert refused.get_json()["code"] == 503 and "database" in refused.get_json()["message"]
    page = browser.post("/check", data=accept)
    assert page.status_code == 503 and page.headers["Retry-After"]
    text = page.get_data(as_text=True)
    assert "Sorry, the service is unavailable" in text and "Nothing you sent has been saved" in text
    assert api.get("/readyz").status_code == 503
    assert app.extensions["partnermatch"].publisher.wait_idle(10)
    broker = redis.Redis.from_url(redis_server.url)
    assert [broker.llen(q) for q in ("matching", "email", "events")] == [0, 0, 0]  # nothing sent

    db_proxy.restore()  # no restart of the API: its pool reconnects by itself
    wait_until(lambda: api.get("/readyz").status_code == 200, what="the API ready again")
    assert api.post("/api/v1/profiles", json=council_body()).status_code == 201
    assert browser.post("/check", data=accept).status_code == 303  # the same press, now saved
    assert app.extensions["partnermatch"].publisher.wait_idle(10)
    assert broker.llen("matching") == 2  # one match task for each accepted submission
    broker.close()
    with sessions_of(api)() as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 2
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 2
    app.extensions["partnermatch"].engine.dispose()
