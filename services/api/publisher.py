"""Publishing from requests after commit, without ever blocking the request.

Committed work goes onto an in-process queue; a daemon thread publishes it to Celery with short
socket timeouts and no retries. If Redis is down the work simply waits in the database, where the
relay in beat finds it (celery #4296: apply_async can hang while Redis is down).
"""

from __future__ import annotations

import logging
import os
import queue
import threading

import redis
from celery import Celery

from partnermatch.config.celery import celery_config
from partnermatch.config.settings import Settings
from partnermatch.shared.outbox.events import Work

log = logging.getLogger(__name__)
BACKLOG = 10_000
BATCH = 100  # the most tasks sent over one producer checkout


class Publisher:
    """Hands committed work to Celery from a background thread."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.celery = Celery("partnermatch-publisher")
        self.celery.conf.update(celery_config(settings))
        self._queue: queue.Queue[Work] = queue.Queue(maxsize=BACKLOG)
        self._pid: int | None = None

    def publish(self, work: list[Work]) -> None:
        """Queue work for publishing; drop it (the relay has it) if the backlog is full."""
        self._ensure_thread()
        for item in work:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                log.warning("publish backlog full; %s left to the relay", item.task)

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():  # a fork (gunicorn) leaves the parent's thread behind
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="publisher", daemon=True).start()

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            try:
                self._send(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _take_batch(self) -> list[Work]:
        """Wait for work, then take whatever else is already queued (up to BATCH items)."""
        batch = [self._queue.get()]
        while len(batch) < BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _send(self, batch: list[Work]) -> None:
        """Publish a batch over one pooled producer (one connection checkout, not one each)."""
        try:
            with self.celery.producer_or_acquire() as producer:
                for item in batch:
                    self._send_one(item, producer)
        except Exception as error:  # noqa: BLE001 - no producer (broker down): the relay has it
            log.warning("publish of %d tasks failed (%s); the relay will retry",
                        len(batch), type(error).__name__)

    def _send_one(self, item: Work, producer) -> None:
        try:
            self.celery.send_task(item.task, args=item.args, task_id=item.task_id,
                                  retry=False, producer=producer)
        except Exception as error:  # noqa: BLE001 - the relay re-publishes from the database
            log.warning("publish of %s failed (%s); the relay will retry",
                        item.task, type(error).__name__)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued has been handed over (for tests and shutdown)."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)

    def broker_status(self) -> str:
        """Say whether the broker answers a ping within half a second."""
        try:
            client = redis.Redis.from_url(self.settings.REDIS_URL, socket_timeout=0.5,
                                          socket_connect_timeout=0.5)
            client.ping()
            return "ok"
        except redis.RedisError as error:
            return f"unavailable: {type(error).__name__}"
