"""Celery settings, shared by the worker, beat and the API's publisher.

Facts that shape them (see RELIABILITY.md): acks_late alone loses a task whose pool process is
killed, so reject_on_worker_lost redelivers it; an unacknowledged task returns only after the
visibility timeout, so that timeout sits just above the hard time limit; the Redis transport has no
dead-letter queue, so dead letters live in the database.
"""

from __future__ import annotations

from celery.schedules import crontab
from kombu import Exchange, Queue

from partnermatch.config.settings import Settings
from partnermatch.shared.outbox.names import TaskName

QUEUES = ("matching", "email", "events")
ROUTES = {
    TaskName.MATCH_PROFILE: {"queue": "matching"},
    TaskName.REFRESH_PARTNERS: {"queue": "matching"},
    TaskName.SEND_EMAIL: {"queue": "email"},
    TaskName.HANDLE_EVENT: {"queue": "events"},
    TaskName.RELAY_OUTBOX: {"queue": "events"},
    TaskName.NOOP: {"queue": "events"},
    TaskName.ERASE_EXPIRED_PROFILES: {"queue": "events"},
    TaskName.SEND_PROFILE_LINKS: {"queue": "email"},
    TaskName.PURGE_EXPIRED: {"queue": "events"},
}
RETENTION_HOUR_UTC = 3  # a quiet hour: erasing many profiles at once re-indexes the matcher


def celery_config(settings: Settings) -> dict[str, object]:
    """Return the Celery configuration for these settings."""
    if settings.BROKER_VISIBILITY_TIMEOUT <= settings.TASK_TIME_LIMIT:
        raise ValueError("BROKER_VISIBILITY_TIMEOUT must be above TASK_TIME_LIMIT, "
                         "or a running task is delivered again to another worker")
    return {
        "broker_url": settings.REDIS_URL,
        # No result backend unless asked for (benchmarks): with one, every send_task subscribes to
        # its result channel, and a publisher then waits out Redis outages (celery #4296).
        "result_backend": settings.RESULT_BACKEND_URL or None,
        "result_expires": 600,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_transport_options": {
            "visibility_timeout": settings.BROKER_VISIBILITY_TIMEOUT,
            "socket_timeout": 5,
            "socket_connect_timeout": 2,
            "retry_on_timeout": True,
            "health_check_interval": 10,
        },
        "broker_heartbeat": 0,
        # Each queue has its own direct exchange and key, so a task reaches exactly one queue.
        "task_queues": [Queue(name, Exchange(name, type="direct"), routing_key=name)
                        for name in QUEUES],
        "task_default_queue": "events",
        "task_routes": ROUTES,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_soft_time_limit": settings.TASK_SOFT_TIME_LIMIT,
        "task_time_limit": settings.TASK_TIME_LIMIT,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_prefetch_multiplier": 1,
        "worker_max_tasks_per_child": 1000,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # A replacement pool process that is slow to start on a loaded machine must not be
        # killed as dead (the default is 4 s), or the pool can spiral (celery #2011).
        "worker_proc_alive_timeout": 30,
        "worker_hijack_root_logger": False,
        # No monitoring events by default: nothing here reads them, and each costs every task
        # a Redis publish (up to a third of a publish's time). `celery control enable_events`
        # turns them on for Flower while someone watches.
        "task_send_sent_event": False,
        "worker_send_task_events": False,
        "beat_schedule": {
            "relay-outbox": {
                "task": TaskName.RELAY_OUTBOX,
                "schedule": settings.RELAY_INTERVAL_SECONDS,
                "options": {"expires": settings.RELAY_INTERVAL_SECONDS * 3},
            },
            "purge-expired": {
                "task": TaskName.PURGE_EXPIRED,
                "schedule": crontab(minute=41),  # hourly
                "options": {"expires": 3600},
            },
            "erase-expired-profiles": {
                "task": TaskName.ERASE_EXPIRED_PROFILES,
                "schedule": crontab(minute=17, hour=RETENTION_HOUR_UTC),
                "options": {"expires": 3600},
            },
        },
        "timezone": "UTC",
    }


def publisher_options() -> dict[str, object]:
    """Options for publishing from a request: fail fast, never retry (the relay catches up)."""
    return {"retry": False}
