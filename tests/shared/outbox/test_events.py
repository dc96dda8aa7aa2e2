"""Work is handed to the publisher after the whole transaction commits, never at a savepoint."""

from __future__ import annotations

from datetime import timedelta

import pytest

from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.db.models import EmailDelivery, LinkRequest, OutboxEvent, utcnow
from partnermatch.shared.outbox.events import (
    consume,
    due_link_requests,
    install_collector,
    send_here,
)
from partnermatch.shared.outbox.names import TaskName


@pytest.fixture
def collected(database_url):
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    handed_over: list = []
    install_collector(sessions, handed_over.extend)
    yield sessions, handed_over
    engine.dispose()


def delivery(key: str) -> EmailDelivery:
    return EmailDelivery(dedupe_key=key, purpose="link", to_address="a@b.gov.uk", message_id="")


def test_work_added_in_a_savepoint_waits_for_the_outer_commit(collected):
    sessions, handed_over = collected
    with transaction(sessions) as session:
        session.add(OutboxEvent(topic="profile.deleted"))
        session.flush()
        with session.begin_nested():
            session.add(delivery("in-a-savepoint"))
        assert handed_over == []
    assert sorted(w.task for w in handed_over) == [TaskName.HANDLE_EVENT, TaskName.SEND_EMAIL]


def test_a_savepoint_rolled_back_keeps_the_rest_of_the_transactions_work(collected):
    sessions, handed_over = collected
    with transaction(sessions) as session:
        session.add(OutboxEvent(topic="profile.deleted"))
        session.flush()
        with pytest.raises(RuntimeError), session.begin_nested():
            session.add(delivery("rolled-back"))
            session.flush()
            raise RuntimeError
    assert TaskName.HANDLE_EVENT in [w.task for w in handed_over]


def test_nothing_is_handed_over_when_the_transaction_rolls_back(collected):
    sessions, handed_over = collected
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        session.add(OutboxEvent(topic="profile.deleted"))
        session.flush()
        raise RuntimeError
    assert handed_over == []


def test_a_delivery_sent_by_this_process_is_not_published(collected):
    sessions, handed_over = collected
    with transaction(sessions) as session:
        mine, other = delivery("sent-here"), delivery("published")
        session.add_all([mine, other])
        session.flush()
        send_here(session, mine.id)
    assert [w.args for w in handed_over] == [(other.id,)]


def test_relay_leaves_alone_an_event_whose_match_is_running(database_url):
    from datetime import timedelta

    from partnermatch.shared.db.models import TaskAttempt, utcnow
    from partnermatch.shared.outbox.events import due_events

    sessions = make_sessionmaker(make_engine(database_url))
    old = utcnow() - timedelta(minutes=5)
    with transaction(sessions) as session:
        session.add_all([OutboxEvent(id="lost", topic="profile.submitted", created_at=old),
                         OutboxEvent(id="running", topic="profile.submitted", created_at=old),
                         OutboxEvent(id="stalled", topic="profile.submitted", created_at=old)])
        session.add_all([TaskAttempt(task_key="match:running", attempts=1, updated_at=utcnow()),
                         TaskAttempt(task_key="match:stalled", attempts=1, updated_at=old)])
    with sessions() as session:
        due = due_events(session, utcnow(), timedelta(seconds=10), timedelta(seconds=60))
        assert sorted(e.id for e in due) == ["lost", "stalled"]


def test_a_link_request_no_worker_answered_is_published_again_for_an_hour(collected):
    sessions, _published = collected
    now = utcnow()
    with transaction(sessions) as session:
        session.add(LinkRequest(id="waiting", email="a@leeds.gov.uk",
                                created_at=now - timedelta(seconds=30)))
        session.add(LinkRequest(id="stale", email="b@leeds.gov.uk",
                                created_at=now - timedelta(hours=2)))
    grace = timedelta(seconds=10)
    with transaction(sessions) as session:
        assert [r.id for r in due_link_requests(session, now, grace)] == ["waiting"]
    with transaction(sessions) as session:  # just published: not again within the grace
        assert due_link_requests(session, now + timedelta(seconds=5), grace) == []
    with transaction(sessions) as session:
        assert [r.id for r in due_link_requests(session, now + grace * 2, grace)] == ["waiting"]


def test_consuming_an_event_stamps_it_once_and_skips_one_that_is_gone(sessions):
    with transaction(sessions) as session:
        event = OutboxEvent(topic="profile.deleted")
        session.add(event)
        session.flush()
        event_id = event.id
        consume(session, event_id)
        first = event.consumed_at
        consume(session, event_id)
        consume(session, "no-such-event")
    assert first is not None
    with sessions() as session:
        assert session.get(OutboxEvent, event_id).consumed_at == first
