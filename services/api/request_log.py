"""Request ids and one structured log line per request (route pattern, never the path)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

from partnermatch.config.logging import request_id

log = logging.getLogger("partnermatch.requests")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def init_app(app: Flask) -> None:
    """Give every request an id (or keep the caller's, if it is safe) and log it once."""

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        request_id.set(incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex)
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = request_id.get() or ""
        route = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
        log.info("request", extra={"method": request.method, "route": route,
                                   "status": response.status_code,
                                   "duration_ms": round(elapsed * 1000, 1)})
        return response
