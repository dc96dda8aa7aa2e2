"""Task counters for Prometheus, correct under the prefork pool (multiprocess mode).

With PROMETHEUS_MULTIPROC_DIR set, each pool process writes its own counter files and /metrics
sums them at scrape time; on one machine (`partnermatch run`) the API reads the same folder.
"""

from __future__ import annotations

from celery.signals import task_failure, task_retry, task_success
from prometheus_client import Counter

TASKS = Counter("partnermatch_tasks_total", "Celery tasks finished, by outcome",
                ["task", "state"])


@task_success.connect
def _succeeded(sender=None, **_kwargs) -> None:
    TASKS.labels(sender.name, "succeeded").inc()


@task_failure.connect
def _failed(sender=None, **_kwargs) -> None:
    TASKS.labels(sender.name, "failed").inc()


@task_retry.connect
def _retried(sender=None, **_kwargs) -> None:
    TASKS.labels(sender.name, "retried").inc()
