"""Real processes for tests: a private redis-server, Celery workers and beat, an SMTP server,
and a TCP proxy that can cut a worker off from its database."""

from __future__ import annotations

import contextlib
import email
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller

from partnermatch.services.embedded import (
    beat_command,
    free_port,
    start_redis,
    wait_for_redis,
    worker_command,
)
from tests import PROJECT_ROOT
from tests.services.worker import fault_injection


class RedisServer:
    """A redis-server of the test's own, which a test may stop, restart or kill."""

    def __init__(self, directory: Path, appendonly: bool = False):
        self.directory = directory
        self.appendonly = appendonly
        self.port = free_port()
        self.process, self.url = start_redis(directory, self.port, appendonly)

    def restart(self) -> None:
        self.stop()
        self.process, self.url = start_redis(self.directory, self.port, self.appendonly)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        self.process.send_signal(sig)
        self.process.wait(timeout=10)

    def start(self) -> None:
        self.process, self.url = start_redis(self.directory, self.port, self.appendonly)
        wait_for_redis(self.url)


class Mailbox:
    """An aiosmtpd handler that keeps what it receives, and can be told to refuse."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse_with: str | None = None
        self.peers: set[tuple] = set()  # the client address of each connection that sent mail
        self.goodbyes: list[tuple] = []  # the client address of each connection that said QUIT

    async def handle_DATA(self, server, session, envelope) -> str:
        self.peers.add(tuple(session.peer))
        if self.refuse_with:
            return self.refuse_with
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope) -> str:
        self.goodbyes.append(tuple(session.peer))
        return "221 Bye"

    def wait_for(self, predicate: Callable[[Message], bool], count: int = 1,
                 timeout: float = 30) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if predicate(m)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"expected {count} matching emails; have {len(self.messages)}")


def start_smtp() -> tuple[Controller, Mailbox]:
    """Start an SMTP server on a free loopback port."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, mailbox


def text_of(message: Message) -> str:
    """Return the plain-text part of an email."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


def settings_of(env: dict[str, str]) -> dict[str, str]:
    """Return a test's environment without the faults only a worker reads, to build settings."""
    return {name: value for name, value in env.items() if name not in fault_injection.NAMES}


class CeleryProcess:
    """A `celery worker` or `celery beat` subprocess with its own environment."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path):
        self.log = log
        self.process = subprocess.Popen(
            command, env={**os.environ, **env}, cwd=PROJECT_ROOT,
            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )

    @classmethod
    def worker(cls, env: dict[str, str], log: Path, concurrency: int = 2,
               name: str = "worker") -> CeleryProcess:
        """A worker; one whose environment names a fault loads
        tests/services/worker/fault_injection.py."""
        command = worker_command(concurrency, name)
        if any(env.get(fault) for fault in fault_injection.NAMES):
            command += ["--include", fault_injection.__name__]
        return cls(command, env, log)

    @classmethod
    def beat(cls, env: dict[str, str], log: Path, var_dir: Path) -> CeleryProcess:
        var_dir.mkdir(parents=True, exist_ok=True)
        return cls(beat_command(var_dir), env, log)

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        """Wait until the process has logged a line containing some text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared in {self.log}")

    def pool_pids(self) -> list[int]:
        """Return the pids of the prefork pool's child processes."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
                             capture_output=True, text=True, check=False).stdout
        return [int(pid) for pid in out.split()]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class TcpProxy:
    """A TCP proxy in front of a server (PostgreSQL) that a test can cut and restore.

    `cut()` closes every live connection and refuses new ones, as a server that went down;
    `restore()` accepts connections again. `cut_when()` arms one cut at a chosen point of a
    conversation: once one connection's client has sent each pattern in turn (SQL text such as
    `INSERT INTO recommendations`, then `COMMIT`).
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.tripped = threading.Event()  # set when an armed cut has happened
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._trigger: _Trigger | None = None
        self._connections = itertools.count()
        self.restore()

    def url_for(self, url: str) -> str:
        """Return a database URL with its host and port replaced by the proxy's."""
        from sqlalchemy.engine import make_url

        parsed = make_url(url).set(host="127.0.0.1", port=self.port)
        return parsed.render_as_string(hide_password=False)

    def restore(self) -> None:
        """Accept connections again."""
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR on POSIX
        listener.settimeout(0.2)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close every live connection and refuse new ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            live, self._sockets = self._sockets, set()
            self._trigger = None
        if listener is not None:
            _close(listener)  # shut down first: a listener closed under accept() lingers
        for sock in live:
            _close(sock)

    def cut_when(self, *patterns: bytes, deliver_last: bool = False) -> None:
        """Cut once a client has sent every pattern in order on one connection.

        deliver_last=False: the data holding the last pattern never reaches the server.
        deliver_last=True: it does, and the cut comes when the server answers, so the client
        never hears the answer (a COMMIT that happened, but the client cannot know).
        """
        self.tripped.clear()
        with self._lock:
            self._trigger = _Trigger(patterns, deliver_last)

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by cut()
                return
            client.settimeout(None)
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _close(client)
                    _close(server)
                    continue
                self._sockets |= {client, server}
            state = {"muted": False, "connection": next(self._connections)}
            threading.Thread(target=self._pump, args=(client, server, state, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, state, False),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, state: dict,
              upstream: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    return
                if upstream:
                    with self._lock:
                        trigger = self._trigger
                        fire = trigger is not None and trigger.feed(state["connection"], data)
                        if fire:
                            self._trigger = None
                    if fire and not trigger.deliver_last:
                        self.cut()
                        self.tripped.set()
                        return
                    if fire:
                        state["muted"] = True
                elif state["muted"]:  # the server answered what the client will never hear
                    self.cut()
                    self.tripped.set()
                    return
                sink.sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._sockets -= {source, sink}
            _close(source)
            _close(sink)


class _Trigger:
    """Patterns one connection's client must send, in order, before an armed cut."""

    def __init__(self, patterns: tuple[bytes, ...], deliver_last: bool):
        self.patterns, self.deliver_last = patterns, deliver_last
        self._progress: dict[int, tuple[int, bytes]] = {}
        self._keep = max(len(p) for p in patterns)

    def feed(self, connection: int, data: bytes) -> bool:
        found, tail = self._progress.get(connection, (0, b""))
        buffer, start = tail + data, 0
        while found < len(self.patterns):
            at = buffer.find(self.patterns[found], start)
            if at < 0:
                break
            start, found = at + len(self.patterns[found]), found + 1
        self._progress[connection] = (found, buffer[max(start, len(buffer) - self._keep):])
        return found == len(self.patterns)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def python() -> str:
    return sys.executable
