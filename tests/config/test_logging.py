"""Structured logs: JSON lines with ids, and requests logged by route, never by path."""

from __future__ import annotations

import json
import logging

from partnermatch.config.logging import JsonFormatter


def test_log_lines_are_json_with_extra_fields():
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "matched",
                                    "profile_id": "abc"})
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "matched" and line["profile_id"] == "abc" and line["ts"]


def test_requests_are_logged_by_route_with_an_id(client, caplog):
    caplog.set_level(logging.INFO, logger="partnermatch.requests")
    response = client.get("/confirm/secret-signed-token-value",
                          headers={"X-Request-ID": "req-123"})
    assert response.headers["X-Request-ID"] == "req-123"
    logged = [r for r in caplog.records if r.name == "partnermatch.requests"]
    assert logged and logged[-1].route == "/confirm/<token>"
    assert "secret-signed-token-value" not in caplog.text


def test_an_unsafe_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "bad id; with spaces"})
    assert response.headers["X-Request-ID"] != "bad id; with spaces"
