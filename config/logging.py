"""Structured JSON logs with request and task ids, and no personal data.

Log lines carry ids (request, task, profile, delivery), never email addresses, names or tokens. The
API logs each request by its route pattern (`/confirm/<token>`), never by its path, so a signed link
never reaches a log.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _current_task() -> tuple[str | None, str | None]:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - celery is a dependency
        return None, None
    task = current_task
    if task is None or not getattr(task, "request", None) or task.request.id is None:
        return None, None
    return task.request.id, task.name


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if request_id.get():
            entry["request_id"] = request_id.get()
        task_id, task_name = _current_task()
        if task_id:
            entry.update(task_id=task_id, task=task_name)
        entry.update({k: v for k, v in vars(record).items()
                      if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send every log line to stderr, as JSON unless asked for plain text."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A line per task received and succeeded (the relay runs every few seconds) drowns what
    # matters; outcomes are counted on /ops and /metrics, and failures still log as errors.
    for chatty in ("celery.app.trace", "celery.worker.strategy", "celery.beat"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
