"""Live queue figures from Redis and the Celery workers."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from celery import Celery

from partnermatch.config.celery import QUEUES

# kombu's Redis transport keeps each priority level in its own list: "name", "name\x06\x163", ...
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)


@dataclass(frozen=True)
class QueueFigures:
    """Queue depths and worker activity at one moment."""

    depths: dict[str, int]
    unacked: int
    workers_online: int
    workers_busy: int
    broker_ok: bool


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Return how many messages wait in each queue."""
    depths = {}
    for queue in QUEUES:
        keys = [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}"
                for step in PRIORITY_STEPS]
        pipe = client.pipeline()
        for key in keys:
            pipe.llen(key)
        depths[queue] = sum(pipe.execute())
    return depths


def read(redis_url: str, celery: Celery | None) -> QueueFigures:
    """Read depths from Redis and ask the workers what they are doing (half a second at most)."""
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        depths = queue_depths(client)
        unacked = client.hlen("unacked")
    except (redis.RedisError, ValueError):
        return QueueFigures(dict.fromkeys(QUEUES, 0), 0, 0, 0, broker_ok=False)
    online, busy = _workers(celery)
    return QueueFigures(depths, unacked, online, busy, broker_ok=True)


def _workers(celery: Celery | None) -> tuple[int, int]:
    if celery is None:
        return 0, 0
    try:
        active = celery.control.inspect(timeout=0.5).active() or {}
    except Exception:  # noqa: BLE001 - no answer means no workers we can see
        return 0, 0
    return len(active), sum(1 for tasks in active.values() if tasks)
