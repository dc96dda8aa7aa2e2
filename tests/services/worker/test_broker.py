"""The worker's Redis transport: a channel of a released connection fails as a lost connection."""

from __future__ import annotations

import pytest
from kombu import Connection
from kombu.common import ignore_errors
from redis.exceptions import ConnectionError as RedisConnectionError

from partnermatch.services.worker import broker


def test_the_worker_serves_redis_urls_with_its_transport(redis_server):
    broker.install()
    with Connection(redis_server.url) as connection:
        assert isinstance(connection.transport, broker.Transport)
        assert connection.as_uri().startswith("redis://")  # what logs and Flower show


def test_a_channel_of_a_released_connection_raises_a_connection_error(redis_server):
    connection = Connection(redis_server.url, transport=broker.Transport)
    channel = connection.default_channel
    channel.client.ping()
    errors = connection.connection_errors
    connection.collect()  # what Celery does to a connection it has lost
    with pytest.raises(RedisConnectionError):
        channel._connparams()
    assert isinstance(RedisConnectionError(), errors)
    ignore_errors(connection, connection.close)  # Celery's close of the lost connection: no raise
