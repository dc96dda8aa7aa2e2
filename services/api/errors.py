"""One error envelope for every error: {"code", "status", "message", "errors"}."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Flask, current_app, jsonify, request
from flask_smorest import Api
from marshmallow import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException

from partnermatch.shared.profiles.schemas import flatten_errors

DB_RETRY_AFTER_SECONDS = 5


def envelope(code: int, message: str, errors: dict[str, list[str]] | None = None):
    """Return a JSON response in the one error shape."""
    body = {
        "code": code,
        "status": HTTPStatus(code).phrase,
        "message": message,
        "errors": errors or {},
    }
    return jsonify(body), code


# Paths whose errors are JSON even when no route matched: the API and what machines read
JSON_PATHS = ("/api/", "/openapi.json", "/healthz", "/readyz", "/metrics", "/ops/figures.json")


class PartnermatchApi(Api):
    """flask-smorest's Api with the project's error envelope."""

    def handle_http_exception(self, error: HTTPException):
        if error.code in (404, 405) and request.blueprint is None \
                and not request.path.startswith(JSON_PATHS) and "web" in current_app.blueprints:
            # No route matched a path of the website (a mistyped link, a form posted to a page):
            # a person is reading, so a GOV.UK page rather than the API's envelope.
            from partnermatch.services.api.web import http_error_page

            return http_error_page(error)
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        errors = flatten_errors(_unwrap_location(messages)) if messages else {}
        code = error.code or 500
        message = data.get("message") or error.description or HTTPStatus(code).phrase
        if code == 422 and messages:
            message = "Some fields are not valid; see errors."
        response, _ = envelope(code, message, errors)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response, code


def _unwrap_location(messages: Any) -> Any:
    # webargs keys errors by location ({"json": {...}}); clients only send JSON bodies.
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "headers"}:
        merged: dict[str, Any] = {}
        for part in messages.values():
            merged.update(part)
        return merged
    return messages


def init_app(app: Flask) -> None:
    """Register the handlers that are not HTTP exceptions."""

    @app.errorhandler(ValidationError)
    def _invalid(error: ValidationError):
        return envelope(422, "Some fields are not valid; see errors.",
                        flatten_errors(error.messages))

    @app.errorhandler(IntegrityError)
    def _conflict(_error: IntegrityError):
        return envelope(409, "A concurrent request changed the same record; try again.")

    @app.errorhandler(DataError)
    def _unstorable(_error: DataError):
        # The database refused a value the schemas let through (e.g. NUL on PostgreSQL): bad input.
        return envelope(400, "The request holds characters or values that cannot be stored.")

    @app.errorhandler(DBAPIError)
    def _database_down(error: DBAPIError):
        app.logger.warning("database unavailable: %s", type(error.orig).__name__)
        response, code = envelope(503, "The database is unavailable; try again shortly.")
        response.headers["Retry-After"] = str(DB_RETRY_AFTER_SECONDS)
        return response, code
