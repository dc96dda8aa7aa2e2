"""The intake ceiling: the minimal durable path, what no intake that keeps a submission can beat.

``gunicorn bench.durable:app`` serves ``POST /api/v1/profiles``: the same validation as the real
endpoint (``partnermatch.shared.profiles.schemas.ProfileSchema``), then one INSERT and COMMIT of
the body on the same database with the same engine settings and pragmas
(``partnermatch.shared.db.engine.make_engine``), then one Redis LPUSH of the new id, and a 201.
``DATABASE_URL`` and ``REDIS_URL`` come from the environment.
"""

from __future__ import annotations

import json
import os
import uuid

import redis
from flask import Flask, request
from marshmallow import ValidationError
from sqlalchemy import text

from partnermatch.shared.db.engine import make_engine
from partnermatch.shared.profiles.schemas import ProfileSchema

TABLE = "bench_durable_intake"

app = Flask(__name__)
_schema = ProfileSchema()
_engine = make_engine(os.environ["DATABASE_URL"])
_redis = redis.Redis.from_url(os.environ["REDIS_URL"])
with _engine.begin() as _connection:
    _connection.execute(text(f"CREATE TABLE IF NOT EXISTS {TABLE} (id VARCHAR(36) PRIMARY KEY, "
                             "body TEXT NOT NULL)"))


@app.post("/api/v1/profiles")
def submit():
    """Validate, store in one short transaction, publish after commit."""
    try:
        profile = _schema.load(request.get_json())
    except ValidationError as error:
        return {"errors": error.messages}, 422
    profile_id = str(uuid.uuid4())
    with _engine.begin() as connection:
        connection.execute(text(f"INSERT INTO {TABLE} (id, body) VALUES (:id, :body)"),  # noqa: S608
                           {"id": profile_id, "body": json.dumps(profile, default=str)})
    _redis.lpush("bench:durable", profile_id)
    return {"id": profile_id, "status": "pending"}, 201
