"""Task starts are counted in the database, each count committed before the work begins."""

from __future__ import annotations

from partnermatch.shared.outbox.attempts import attempts_so_far, bump_attempt


def test_each_start_of_a_task_is_counted_from_one(sessions):
    assert [bump_attempt(sessions, "match:a") for _ in range(3)] == [1, 2, 3]
    assert bump_attempt(sessions, "match:b") == 1
    with sessions() as session:
        assert attempts_so_far(session, "match:a") == 3
