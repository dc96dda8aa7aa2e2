"""Task starts are counted in the database, each count committed before the work begins."""

from __future__ import annotations

from sqlalchemy import func, select

from partnermatch.shared.db.engine import make_counter_sessionmaker, transaction
from partnermatch.shared.db.models import DeadLetter, OutboxEvent, utcnow
from partnermatch.shared.outbox.attempts import (
    attempts_so_far,
    bump_attempt,
    bump_attempts,
    dead_letter_event,
    start_attempt,
)
from partnermatch.shared.outbox.names import match_key


def test_each_start_of_a_task_is_counted_from_one(sessions):
    assert [bump_attempt(sessions, "match:a") for _ in range(3)] == [1, 2, 3]
    assert bump_attempt(sessions, "match:b") == 1
    with sessions() as session:
        assert attempts_so_far(session, "match:a") == 3


def test_giving_up_on_an_event_dead_letters_it_once_unless_it_is_done_or_gone(sessions):
    with transaction(sessions) as session:
        waiting = OutboxEvent(topic="profile.submitted")
        done = OutboxEvent(topic="profile.submitted", consumed_at=utcnow())
        session.add_all([waiting, done])
        session.flush()
        waiting_id, done_id = waiting.id, done.id
    with transaction(sessions) as session:
        assert dead_letter_event(session, "t", "match:w", waiting_id, "boom", 3)
        assert dead_letter_event(session, "t", "match:w", waiting_id, "boom again", 4)
        assert not dead_letter_event(session, "t", "match:d", done_id, "boom", 3)
        assert not dead_letter_event(session, "t", "match:g", "gone", "boom", 3)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1
        letter = session.scalar(select(DeadLetter))
        assert (letter.task_key, letter.task_args, letter.error, letter.attempts) == (
            "match:w", [waiting_id], "boom again", 4)


def test_a_start_learns_in_its_count_whether_its_event_is_consumed(sessions):
    with transaction(sessions) as session:
        event = OutboxEvent(topic="profile.submitted")
        session.add(event)
        session.flush()
        event_id = event.id
    counter = make_counter_sessionmaker(sessions.kw["bind"])
    try:
        assert start_attempt(counter, match_key(event_id), event_id) == (1, False)
        with transaction(sessions) as session:
            session.get(OutboxEvent, event_id).consumed_at = utcnow()
        assert start_attempt(counter, match_key(event_id), event_id) == (2, True)
        assert start_attempt(counter, "match:gone", "gone") == (1, False)
        bump_attempts(counter, ["match:gone", "match:other"])
        with sessions() as session:  # committed: another connection reads them
            assert attempts_so_far(session, match_key(event_id)) == 2
            assert attempts_so_far(session, "match:gone") == 2
            assert attempts_so_far(session, "match:other") == 1
    finally:
        if counter.kw["bind"] is not sessions.kw["bind"]:
            counter.kw["bind"].engine.dispose()
