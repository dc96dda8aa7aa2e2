"""Fixtures for the email tests: a real aiosmtpd server on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class RecordingHandler:
    """An SMTP handler that records what it accepts and can be told to refuse or hang up."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.port = 0
        self.rcpt_reply: str | None = None
        self.data_reply = "250 OK"
        self.data_delay = 0.0
        self.hang_up_at: str | None = None  # "rcpt", or "data" (after the whole message arrived)
        self.peers: list[Any] = []  # the client address of each message received
        self.servers: list[Any] = []  # the server side of the connection of each message
        self.loop: asyncio.AbstractEventLoop | None = None

    def drop_connections(self) -> None:
        """Close every connection from the server side, as an idle timeout or a restart would."""

        async def abort() -> None:
            for server in self.servers:
                server.transport.abort()

        asyncio.run_coroutine_threadsafe(abort(), self.loop).result(timeout=5)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        """Accept the recipient unless told to answer otherwise or to hang up."""
        if self.hang_up_at == "rcpt":
            server.transport.abort()
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        """Record the message, then reply, wait, or close the connection before the reply."""
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        self.servers.append(server)
        if self.hang_up_at == "data":
            server.transport.abort()  # the client has sent every byte and will never see the 250
        await asyncio.sleep(self.data_delay)
        return self.data_reply


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing is listening on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[RecordingHandler]:
    """Run a real SMTP server for one test and hand over its handler (with its port)."""
    handler = RecordingHandler()
    handler.port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=handler.port, server_hostname="localhost"
    )
    controller.start()
    handler.loop = controller.loop
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def unused_port() -> int:
    """Return a port nothing listens on, so connecting is refused."""
    return free_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Listen on a port but never answer, like a server that hangs before its greeting."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]
