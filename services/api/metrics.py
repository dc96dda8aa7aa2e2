"""/metrics for Prometheus: business figures read at scrape time, plus request and task counters.

Business figures (queue depths, outbox lag, deliveries, dead letters) come from the database and
Redis when Prometheus scrapes, so every API replica reports the same truth. Request and task
counters use prometheus-client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (gunicorn
workers and the Celery prefork pool each write their own files, summed at scrape time).
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from partnermatch.services.api.ops.auth import ops_required

bp = Blueprint("metrics", __name__)

REQUESTS = Counter("partnermatch_http_requests_total", "HTTP requests",
                   ["method", "endpoint", "status"])
LATENCY = Histogram("partnermatch_http_request_duration_seconds", "HTTP request duration",
                    ["method", "endpoint"])


class BusinessCollector:
    """Reads the ops figures at scrape time."""

    def collect(self):
        from partnermatch.services.api.ops.views import snapshot

        current = snapshot()
        figures, queues = current["figures"], current["queues"]
        depth = GaugeMetricFamily("partnermatch_queue_depth", "Messages waiting", labels=["queue"])
        for name, value in queues.depths.items():
            depth.add_metric([name], value)
        yield depth
        yield _gauge("partnermatch_queue_unacked", "Delivered, not acknowledged", queues.unacked)
        yield _gauge("partnermatch_workers_online", "Workers answering", queues.workers_online)
        yield _gauge("partnermatch_workers_busy", "Workers running a task", queues.workers_busy)
        yield _gauge("partnermatch_outbox_lag_seconds", "Age of the oldest unconsumed event",
                     figures.outbox_lag_seconds)
        yield _gauge("partnermatch_outbox_unconsumed", "Events not yet consumed",
                     figures.outbox_unconsumed)
        yield _gauge("partnermatch_dead_letters", "Unresolved dead letters", figures.dead_letters)
        yield _gauge("partnermatch_suppliers_awaiting_approval", "Suppliers to approve",
                     figures.suppliers_awaiting_approval)
        # A count over a sliding hour, as /ops shows it: a gauge. Rates come from the workers'
        # partnermatch_matches_total counter.
        yield _gauge("partnermatch_matches_last_hour", "Match runs in the last hour",
                     figures.matches_last_hour)
        yield _latency(figures)
        yield _labelled("partnermatch_email_deliveries", "Email deliveries by status", "status",
                        figures.deliveries)
        yield _labelled("partnermatch_feedback_answers", "Was this useful? answers", "answer",
                        figures.feedback)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _latency(figures) -> GaugeMetricFamily:
    """Submit-to-email latency over the last hour, by percentile (none while no email was sent).

    A gauge computed by the database, not a summary: the label is `percentile`, since `quantile`
    belongs to summaries."""
    family = GaugeMetricFamily("partnermatch_submit_to_email_seconds",
                               "Submission to email over the last hour, by percentile",
                               labels=["percentile"])
    for percentile, value in (("50", figures.latency_p50_seconds),
                              ("95", figures.latency_p95_seconds)):
        if value is not None:
            family.add_metric([percentile], value)
    return family


def _labelled(name: str, documentation: str, label: str,
              values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family


def registry() -> CollectorRegistry:
    """Return a registry with the business figures and this machine's counters."""
    scrape = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(scrape)
    else:
        for collector in (REQUESTS, LATENCY):
            scrape.register(collector)
    scrape.register(BusinessCollector())
    return scrape


@bp.get("/metrics")
@ops_required
def metrics():
    """Prometheus metrics (ops token or an ops login)."""
    return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Count and time every request."""

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        if "started" in g:
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - g.started)
        return response
