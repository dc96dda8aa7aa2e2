"""Faults the reliability tests inject into a worker process, from outside the production code.

A test worker imports this module (`celery worker --include`, see tests/processes.py) when its
environment names a fault:

- TEST_MATCH_DELAY_SECONDS: every match sleeps this long once started (after its attempt is
  counted and "match started" logged), so a signal lands mid-match, or the time limit passes (F14).
- TEST_POISON_NEEDS_TEXT: a match of a profile whose needs_text equals it kills its own pool
  process, every time (F15): whether the task is its event's own or a batch took the event in.

Both wrap the match task's work as the worker starts; its pool processes inherit the wrapped
task. Importing this module elsewhere changes nothing.
"""

from __future__ import annotations

import os
import signal
import time

from celery.signals import worker_init

from partnermatch.services.worker.base import WorkerTask
from partnermatch.shared.db.models import OutboxEvent, Profile
from partnermatch.shared.outbox.names import TaskName
from partnermatch.shared.recommendations import consume

DELAY = "TEST_MATCH_DELAY_SECONDS"
POISON = "TEST_POISON_NEEDS_TEXT"
NAMES = (DELAY, POISON)  # read from the worker's environment, never settings


def _pause() -> None:
    seconds = float(os.environ.get(DELAY) or 0)
    if seconds:
        time.sleep(seconds)


def _die_if_poisoned(task: WorkerTask, event_id: str) -> None:
    poison = os.environ.get(POISON)
    if not poison:
        return
    with task.runtime.sessions() as session:
        event = session.get(OutboxEvent, event_id)
        profile = session.get(Profile, event.profile_id) if event else None
        if profile is not None and profile.fields.get("needs_text") == poison:
            os.kill(os.getpid(), signal.SIGKILL)


def inject_into(task: WorkerTask) -> None:
    """Run the faults this process's environment names before each run of a task's work."""
    work = task.run

    def run(event_id: str, *args, **kwargs):
        _pause()
        _die_if_poisoned(task, event_id)
        return work(event_id, *args, **kwargs)

    task.run = run



def poison_matching() -> None:
    """Kill the process matching a poisoned profile inside any transaction, a batch's too."""
    poison, match_locked = os.environ.get(POISON), consume.match_locked
    if not poison:
        return

    def guarded(session, index, event, *args, **kwargs):
        profile = session.get(Profile, event.profile_id) if event.profile_id else None
        if profile is not None and profile.fields.get("needs_text") == poison:
            os.kill(os.getpid(), signal.SIGKILL)
        return match_locked(session, index, event, *args, **kwargs)

    consume.match_locked = guarded


@worker_init.connect
def _inject(sender=None, **_kwargs) -> None:
    inject_into(sender.app.tasks[TaskName.MATCH_PROFILE])
    poison_matching()
