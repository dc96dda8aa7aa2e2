"""Liveness and readiness: the database decides readiness; the broker is only reported."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from services.api.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Say the process is alive."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Say whether the database answers, and report the broker."""
    rt = runtime()
    try:
        with rt.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        database = f"unavailable: {type(error).__name__}"
    broker = rt.publisher.broker_status() if rt.publisher else "not configured"
    ready = database == "ok"
    response = jsonify(status="ready" if ready else "unready", database=database, broker=broker)
    if not ready:
        response.headers["Retry-After"] = "5"
    return response, 200 if ready else 503
