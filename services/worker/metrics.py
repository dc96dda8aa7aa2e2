"""The worker's own Prometheus metrics: tasks, durations, failures, matches and emails.

Counters are correct under the prefork pool through prometheus-client's multiprocess mode: with
PROMETHEUS_MULTIPROC_DIR set, each pool process writes its own files and a scrape sums them.
`partnermatch worker --metrics-port PORT` serves them over HTTP from the worker's main process
(a bootstep), so Prometheus scrapes every worker itself; on one machine (`partnermatch run`) the
API's /metrics reads the same folder instead.

Every known label value starts at zero in each pool process, so a series exists (and `rate()` and
`increase()` work) before the first task of its kind, and a scrape lists every metric the worker
has.
"""

from __future__ import annotations

import logging
import os
import time

import click
from celery import Celery, bootsteps
from celery.signals import (
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    task_success,
    worker_process_init,
)
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server

log = logging.getLogger(__name__)

TASK_STATES = ("succeeded", "failed", "retried")
MATCH_OUTCOMES = ("matched", "already", "stale", "gone", "dead-lettered")
EMAIL_OUTCOMES = ("sent", "retry", "failed", "ambiguous", "not_pending")
# Matching runs up to the soft time limit (a minute by default); emails take well under a second.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)

TASKS = Counter("partnermatch_tasks_total", "Celery tasks finished, by outcome",
                ["task", "state"])
TASK_DURATION = Histogram("partnermatch_task_duration_seconds",
                          "Time a Celery task ran, from start to finish (any outcome)", ["task"],
                          buckets=DURATION_BUCKETS)
MATCHES = Counter("partnermatch_matches_total", "Match tasks finished, by outcome", ["outcome"])
EMAILS = Counter("partnermatch_emails_total", "Email send attempts, by outcome", ["outcome"])

_started: dict[str, float] = {}


@task_prerun.connect
def _start(task_id=None, **_kwargs) -> None:
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _finish(task_id=None, task=None, **_kwargs) -> None:
    started = _started.pop(task_id, None)
    if started is not None and task is not None:
        TASK_DURATION.labels(task.name).observe(time.perf_counter() - started)


@task_success.connect
def _succeeded(sender=None, **_kwargs) -> None:
    TASKS.labels(sender.name, "succeeded").inc()


@task_failure.connect
def _failed(sender=None, **_kwargs) -> None:
    TASKS.labels(sender.name, "failed").inc()


@task_retry.connect
def _retried(sender=None, **_kwargs) -> None:
    TASKS.labels(sender.name, "retried").inc()


def count_match(outcome: str) -> str:
    """Count a finished match by its outcome; return the outcome."""
    MATCHES.labels(outcome).inc()
    return outcome


def count_email(outcome: str) -> str:
    """Count an email send attempt by its outcome ("retry scheduled" counts as retry)."""
    label = "retry" if outcome.startswith("retry") else outcome.replace(" ", "_")
    EMAILS.labels(label).inc()
    return outcome


def start_at_zero(task_names: list[str]) -> None:
    """Create every known series at zero in this process."""
    for name in task_names:
        TASK_DURATION.labels(name)
        for state in TASK_STATES:
            TASKS.labels(name, state)
    for outcome in MATCH_OUTCOMES:
        MATCHES.labels(outcome)
    for outcome in EMAIL_OUTCOMES:
        EMAILS.labels(outcome)


@worker_process_init.connect
def _pool_process_started(sender=None, **_kwargs) -> None:
    from partnermatch.services.worker.app import app

    start_at_zero(sorted(name for name in app.tasks if name.startswith("partnermatch.")))


def scrape_registry() -> CollectorRegistry:
    """The registry a worker serves: every pool process's files, or this process alone."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import REGISTRY

        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class MetricsServer(bootsteps.StartStopStep):
    """Serve /metrics from the worker's main process when --metrics-port is given."""

    def __init__(self, parent, metrics_port: int | None = None,
                 metrics_host: str = "127.0.0.1", **kwargs):
        super().__init__(parent, **kwargs)
        self.port, self.host, self.server = metrics_port, metrics_host, None

    def start(self, parent) -> None:
        if not self.port:
            return
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            raise RuntimeError("--metrics-port needs PROMETHEUS_MULTIPROC_DIR (an empty folder): "
                               "without it the pool processes' counters cannot be read")
        self.server, _thread = start_http_server(self.port, self.host, registry=scrape_registry())
        log.info("worker metrics on http://%s:%d/metrics", self.host, self.port)

    def stop(self, parent) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None


def install(app: Celery) -> None:
    """Add --metrics-port and --metrics-host to `celery worker`, and the step that serves them."""
    app.user_options["worker"].add(click.Option(
        ["--metrics-port"], type=int, default=None,
        help="Serve Prometheus metrics on this port (needs PROMETHEUS_MULTIPROC_DIR)."))
    app.user_options["worker"].add(click.Option(
        ["--metrics-host"], default="127.0.0.1", show_default=True,
        help="The address the metrics port listens on."))
    app.steps["worker"].add(MetricsServer)
