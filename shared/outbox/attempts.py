"""Attempt counting and dead letters, kept in the database (the Redis transport has neither).

A task whose process dies is redelivered (reject_on_worker_lost), so a profile that kills its
process every time would loop for ever. Each task counts its starts here, committed on their own
before the work, and gives up into the dead letters once past the limit. On PostgreSQL the count is
one statement on a connection of its own that commits each statement without waiting for the disk
(``partnermatch.shared.db.engine.make_counter_sessionmaker``).
"""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from partnermatch.shared.db.models import DeadLetter, OutboxEvent, TaskAttempt, utcnow

_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def bump_attempt(sessions: sessionmaker[Session], task_key: str) -> int:
    """Count one more start of a task and return how many there have been."""
    return _counted(sessions, lambda session: _bump(session, task_key)[0], task_key)


def start_attempt(sessions: sessionmaker[Session], task_key: str,
                  event_id: str) -> tuple[int, bool]:
    """Count one more start of the task consuming an outbox event; return how many there have
    been and whether the event is consumed already (its work committed: nothing left to do).

    One statement, and on a counter connection one round trip: every task start pays it.
    """
    return _counted(sessions, lambda session: _bump(session, task_key, event_id), task_key)


def bump_attempts(sessions: sessionmaker[Session], task_keys: list[str]) -> None:
    """Count one more start of several tasks, in one transaction (a batch's companions)."""
    if task_keys:
        _counted(sessions, lambda session: count_starts(session, task_keys),
                 f"{len(task_keys)} tasks")


def count_starts(session: Session, task_keys: list[str]) -> None:
    """Count one more start of several tasks in the caller's transaction (one statement where
    the database has an upsert)."""
    if not task_keys:
        return
    upsert = _UPSERTS.get(session.get_bind().dialect.name)
    if upsert is None:
        for task_key in task_keys:
            _bump(session, task_key)
        return
    now, table = utcnow(), TaskAttempt.__table__
    statement = upsert(table).values(
        [{"task_key": key, "attempts": 1, "updated_at": now} for key in sorted(task_keys)])
    session.execute(statement.on_conflict_do_update(  # one statement for them all
        index_elements=[table.c.task_key],
        set_={"attempts": table.c.attempts + 1, "updated_at": now}))


def _counted(sessions: sessionmaker[Session], count, what: str):
    for _ in range(3):
        try:
            with sessions() as session, session.begin():
                return count(session)
        except IntegrityError:  # two first attempts raced to insert; the loser updates instead
            continue
        except DBAPIError as error:  # a counter connection the server dropped: once more afresh
            if not error.connection_invalidated:
                raise
    raise RuntimeError(f"could not count attempts for {what}")


def _bump(session: Session, task_key: str, event_id: str | None = None) -> tuple[int, bool]:
    bind = session.get_bind()
    dialect = bind.dialect.name
    consumed = (select(OutboxEvent.consumed_at.is_not(None)).where(OutboxEvent.id == event_id)
                .scalar_subquery())
    upsert = _UPSERTS.get(dialect)
    if upsert is not None:  # one statement, one round trip: every task start counts here
        if dialect == "postgresql" and \
                bind.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            # Not worth a flush to disk: only a database crash loses the last counts (a process
            # killed mid-task does not), and then a poison task gets a few more tries.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        now, table = utcnow(), TaskAttempt.__table__
        statement = upsert(table).values(task_key=task_key, attempts=1, updated_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.task_key],
            set_={"attempts": table.c.attempts + 1, "updated_at": now},
        )
        if event_id is None:
            return session.execute(statement.returning(table.c.attempts)).scalar_one(), False
        count, done = session.execute(statement.returning(table.c.attempts, consumed)).one()
        return count, bool(done)
    updated = session.execute(
        update(TaskAttempt)
        .where(TaskAttempt.task_key == task_key)
        .values(attempts=TaskAttempt.attempts + 1, updated_at=utcnow())
    )
    if updated.rowcount == 0:
        session.add(TaskAttempt(task_key=task_key, attempts=1))
        session.flush()
        count = 1
    else:
        count = session.scalar(select(TaskAttempt.attempts)
                               .where(TaskAttempt.task_key == task_key))
    return count, event_id is not None and bool(session.scalar(select(consumed)))


def attempts_so_far(session: Session, task_key: str) -> int:
    """Return how many times a task has started."""
    row = session.get(TaskAttempt, task_key)
    return row.attempts if row else 0


def dead_letter(session: Session, task_name: str, task_key: str, args: list[str], error: str,
                attempts: int) -> DeadLetter:
    """Record a task that gave up, once per task key while unresolved."""
    existing = session.scalar(
        select(DeadLetter).where(DeadLetter.task_key == task_key, DeadLetter.resolved_at.is_(None))
    )
    if existing is not None:
        existing.error, existing.attempts = error[:4000], attempts
        return existing
    letter = DeadLetter(task_name=task_name, task_key=task_key, task_args=args,
                        error=error[:4000], attempts=attempts)
    session.add(letter)
    return letter


def dead_letter_event(session: Session, task_name: str, task_key: str, event_id: str,
                      error: str, attempts: int) -> bool:
    """Record giving up on the work consuming an outbox event; False if there is nothing to give
    up, the event being gone or consumed (a duplicate delivery of finished work, or a racing
    give-up). The row lock makes concurrent give-ups write one dead letter, not two."""
    event = session.get(OutboxEvent, event_id, with_for_update=True)
    if event is None or event.consumed_at is not None:
        return False
    dead_letter(session, task_name, task_key, [event_id], error, attempts)
    return True


def reset_attempts(session: Session, task_key: str) -> None:
    """Forget a task's attempts, so a replayed dead letter starts afresh."""
    row = session.get(TaskAttempt, task_key)
    if row is not None:
        session.delete(row)
