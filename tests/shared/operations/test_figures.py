"""Ops figures computed from the database."""

from __future__ import annotations

from datetime import timedelta

from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.db.models import DeadLetter, OutboxEvent, TaskAttempt, utcnow
from partnermatch.shared.operations.figures import alerts, figures
from partnermatch.shared.outbox.names import TaskName, email_key, match_key


def test_figures_count_lag_dead_letters_and_retries(database_url):
    sessions = make_sessionmaker(make_engine(database_url))
    now = utcnow()
    with transaction(sessions) as session:
        session.add(OutboxEvent(topic="profile.submitted", created_at=now - timedelta(seconds=90)))
        session.add(DeadLetter(task_name=TaskName.SEND_EMAIL, task_key=email_key("x"),
                               task_args=["x"], error="550", attempts=1))
        session.add(TaskAttempt(task_key=match_key("y"), attempts=3, updated_at=now))
    with sessions() as session:
        current = figures(session, now)
    assert 89 <= current.outbox_lag_seconds <= 91
    assert current.outbox_unconsumed == 1 and current.dead_letters == 1
    assert sum(current.per_minute["retries"]) == 1
    assert [a.name for a in alerts(current, 60, 1)] == ["outbox_lag", "dead_letters"]
    assert alerts(current, 120, 2) == []
