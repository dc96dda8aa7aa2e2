"""Strict JSON parsing for the API: JSON only, valid UTF-8, no duplicate keys, shallow."""

from __future__ import annotations

import json
from typing import Any

from flask import Request
from flask_smorest import Blueprint, abort
from webargs.flaskparser import FlaskParser

MAX_DEPTH = 8


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate keys")
    return dict(pairs)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _check(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if isinstance(value, str):
        value.encode("utf-8")  # raises on unpaired surrogates such as "\ud800"
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def parse_json_body(request: Request) -> Any:
    """Return the request's JSON body, or abort with 415 or 400 saying what is wrong."""
    if request.mimetype != "application/json":
        abort(415, message="Send the body as JSON with Content-Type: application/json.")
    try:
        text = request.get_data(cache=True).decode("utf-8")
        document = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        )
        _check(document)
    except (UnicodeError, ValueError, RecursionError) as error:
        abort(400, message=f"The body is not valid JSON: {_describe(error)}.")
    return document


def _describe(error: Exception) -> str:
    if isinstance(error, UnicodeError):
        return "it must be UTF-8 text without unpaired surrogates"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error).split(":")[0]


class StrictParser(FlaskParser):
    """webargs parser that reads JSON bodies with parse_json_body."""

    def _raw_load_json(self, req: Request) -> Any:
        return parse_json_body(req)


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint that parses request bodies strictly."""

    ARGUMENTS_PARSER = StrictParser()
