"""Real processes for tests: a private redis-server, Celery workers and beat, an SMTP server."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller

from config.settings import PROJECT_ROOT
from services.embedded import beat_command, free_port, start_redis, wait_for_redis, worker_command


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

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse_with:
            return self.refuse_with
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

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
        return cls(worker_command(concurrency, name), env, log)

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


def python() -> str:
    return sys.executable
