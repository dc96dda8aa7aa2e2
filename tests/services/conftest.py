"""Fixtures of the API and worker tests alike: a redis-server of the test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.processes import RedisServer


@pytest.fixture
def redis_server(request, tmp_path) -> Iterator[RedisServer]:
    """A private redis-server; with an append-only file, as in production, for a test marked
    `redis_append_only`."""
    append_only = request.node.get_closest_marker("redis_append_only") is not None
    server = RedisServer(tmp_path / "redis", appendonly=append_only)
    yield server
    if server.process.poll() is None:
        server.stop()
