"""Liveness and readiness: the database decides readiness; the broker is only reported."""

from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy import text

from partnermatch.services.api.parsing import ApiBlueprint
from partnermatch.services.api.runtime import runtime

blp = ApiBlueprint("health", __name__, description="Liveness and readiness probes.")


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ready", "unready"]})
    database = fields.String(required=True)
    broker = fields.String(required=True, metadata={
        "description": "Reported only: submissions are accepted while the broker is down"})


@blp.route("/healthz", methods=["GET"])
@blp.response(200, HealthSchema)
def healthz():
    """Say the process is alive"""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@blp.response(200, ReadinessSchema)
@blp.alt_response(503, schema=ReadinessSchema, description="The database does not answer")
def readyz():
    """Say whether the database answers, and report the broker"""
    rt = runtime()
    try:
        with rt.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        database = f"unavailable: {type(error).__name__}"
    broker = rt.publisher.broker_status() if rt.publisher else "not configured"
    ready = database == "ok"
    body = {"status": "ready" if ready else "unready", "database": database, "broker": broker}
    return (body, 200) if ready else (body, 503, {"Retry-After": "5"})
