"""Task starts are counted in the database, each count committed before the work begins."""

from __future__ import annotations

from sqlalchemy import func, select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import DeadLetter, OutboxEvent, utcnow
from partnermatch.shared.outbox.attempts import attempts_so_far, bump_attempt, dead_letter_event


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
