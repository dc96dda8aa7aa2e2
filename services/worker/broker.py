"""Kombu's Redis transport, for a worker that outlives a Redis restart with a task in flight.

Celery 5.7.0 handles a lost broker connection by collecting the connection, which releases its
transport, and then closing it. A channel of the released transport has no connection details
left, so whatever it still does raises AttributeError: putting back the late-acknowledged message
in flight as the channel closes, or acknowledging that message once its task ends. Celery takes
that for an unrecoverable error and the worker stops ("Unrecoverable error:
AttributeError("'NoneType' object has no attribute 'hostname'")"), however briefly Redis was gone.

Here such a channel raises a connection error instead, which Celery and kombu expect of a
connection that is gone: the close ignores it, the late acknowledgement is logged as not made,
and the consumer reconnects. The message is not lost: it stays in Redis's unacknowledged set,
which the transport restores after the visibility timeout, and a task run again finds its work
done (matching and sending are idempotent by their outbox event and delivery).

The connections the worker's event loop polls (its BRPOP and its pub/sub connection, for remote
control) never retry: a command there fails at once when Redis is gone. With the retry that
`retry_on_timeout` turns on (redis-py retries a connection error too), a failed read on the
pub/sub connection made redis-py reconnect inside the read and read again. Were Redis already
back (restarted while the worker, on a loaded machine, was not scheduled), the new connection
was not subscribed (kombu hands the pub/sub client its connection, so redis-py's re-subscribe
was never set up) and the read, with no timeout, waited on it for ever: the event loop stopped,
nothing was consumed and nothing logged. Failing instead, the read raises the lost connection,
which Celery logs ("Connection to broker lost") and reconnects from. Other connections (publish,
acknowledge) keep the retry: they are not polled, so a silent reconnect there is harmless.
"""

from __future__ import annotations

from kombu import transport as kombu_transport
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("this channel's broker connection was released")
        params = super()._connparams(asynchronous)
        if asynchronous:  # the connections the event loop polls: BRPOP and pub/sub
            params["retry_on_timeout"] = False
            params["retry"] = Retry(NoBackoff(), 0)
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    """Serve redis:// and rediss:// broker URLs with this transport in this process.

    An alias rather than Celery's `broker_transport`, so that the broker URL everyone reads (logs,
    Flower's broker page) still says redis.
    """
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
        kombu_transport._transport_cache.pop(scheme, None)  # resolved before: resolve again
