"""The base of every worker task: its process's runtime and, for a task that consumes an outbox
event, the retry and give-up skeleton.

A task consuming an event counts each start in the database (a process killed mid-task is
redelivered, so a task that kills its process would otherwise loop for ever), and in the same
statement learns whether its event is consumed already, in which case it stops there. It retries
an error with backoff, and past TASK_MAX_ATTEMPTS dead-letters the event and settles it, so its
body is just its work.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from celery import Task
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from partnermatch.services.worker.runtime import WorkerRuntime, worker_runtime
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.outbox import attempts
from partnermatch.shared.outbox.names import match_key

log = logging.getLogger(__name__)

# A racing duplicate or the database itself: worth another try however many there have been.
ALWAYS_RETRIED = (IntegrityError, OperationalError)
CRASH_LOOP = "too many attempts (crashed each time?)"


def backoff(attempt: int, cap: float = 30.0) -> float:
    """Exponential backoff with jitter, kept well below the visibility timeout."""
    return min(cap, 2.0 ** attempt) * random.uniform(0.5, 1.5)


def _as_is(outcome: str) -> str:
    return outcome


@dataclass(frozen=True)
class EventAttempts:
    """How a task consuming an outbox event is named in logs and gives up on it."""

    label: str  # "match": the logs say "match started"
    settle: Callable[[Session, str], None]  # leaves the given-up event consumed, in a transaction
    count: Callable[[str], str] = _as_is  # counts an outcome in the metrics, returns it


class WorkerTask(Task):
    """A task of this worker. Declared with `event_attempts=EventAttempts(...)`, its first
    argument is an outbox event id and each start is counted, retried with backoff and, past the
    limit, dead-lettered."""

    max_retries = None  # the attempt count, kept in the database, is what gives up
    event_attempts: ClassVar[EventAttempts | None] = None

    @property
    def runtime(self) -> WorkerRuntime:
        """Return the live objects of this process (built after the fork)."""
        return worker_runtime(self.app)

    def __call__(self, *args, **kwargs):
        # Calls run itself, not Task.__call__: the worker has already pushed this delivery's
        # request (its id and retries), which a second push would hide from the work.
        if self.event_attempts is None:
            return self.run(*args, **kwargs)
        return self._attempt(*args, **kwargs)

    def _attempt(self, event_id: str, *args, **kwargs):
        key, limit = match_key(event_id), self.runtime.settings.TASK_MAX_ATTEMPTS
        count, done = attempts.start_attempt(self.runtime.counter_sessions, key, event_id)
        if count > limit and not done:
            return self._give_up(event_id, key, count, CRASH_LOOP)
        log.info("%s started", self.event_attempts.label,
                 extra={"event_id": event_id, "attempt": count})
        if done:  # committed by an earlier start, or taken into another task's batch
            return self.event_attempts.count("already")
        self.request.attempt = count  # the body may do more on a first attempt (a batch)
        try:
            return self.run(event_id, *args, **kwargs)
        except ALWAYS_RETRIED as error:
            raise self.retry(countdown=backoff(count), exc=error) from error
        except Exception as error:
            if count >= limit:
                return self._give_up(event_id, key, count, repr(error))
            raise self.retry(countdown=backoff(count), exc=error) from error

    def _give_up(self, event_id: str, key: str, count: int, error: str) -> str:
        with transaction(self.runtime.sessions) as session:
            if not attempts.dead_letter_event(session, self.name, key, event_id, error, count):
                return "already"
            self.event_attempts.settle(session, event_id)
        log.error("%s for event %s dead-lettered after %d attempts", self.event_attempts.label,
                  event_id, count)
        return self.event_attempts.count("dead-lettered")
