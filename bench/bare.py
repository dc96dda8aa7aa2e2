"""The intake ceiling: a bare Flask app that only validates a profile with the shared schema.

``gunicorn bench.bare:app`` serves ``POST /api/v1/profiles``: the body is loaded with
``partnermatch.shared.profiles.schemas.ProfileSchema`` (422 with the errors, else 201) and nothing
is stored.
"""

from __future__ import annotations

import uuid

from flask import Flask, request
from marshmallow import ValidationError

from partnermatch.shared.profiles.schemas import ProfileSchema

app = Flask(__name__)
_schema = ProfileSchema()


@app.post("/api/v1/profiles")
def submit():
    """Validate a profile and answer as the real endpoint does, storing nothing."""
    try:
        _schema.load(request.get_json())
    except ValidationError as error:
        return {"errors": error.messages}, 422
    return {"id": str(uuid.uuid4()), "status": "pending"}, 201
