"""Where built messages go: an SMTP server, GOV.UK Notify, or a directory of .eml files."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Protocol

from partnermatch.shared.email.errors import PermanentEmailError, TransientEmailError
from partnermatch.shared.email.notify import NOTIFY_API, NotifySender
from partnermatch.shared.email.smtp import SmtpSender

__all__ = [
    "EMAIL_BACKENDS", "EmailSender", "FileSender", "NotifySettings", "NotifySender", "SmtpSender",
    "sender_from_settings",
]

# "" chooses by SMTP_HOST: SMTP when it is set, else .eml files.
EMAIL_BACKENDS = ("", "smtp", "file", "notify")

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


class EmailSender(Protocol):
    """Anything that can send a built message, raising an EmailError subclass if it cannot."""

    def send(self, message: EmailMessage, *, repeat: bool = False) -> None:
        """Send one message; `repeat` says an earlier attempt of the same delivery was made."""


@dataclass(frozen=True)
class NotifySettings:
    """What the GOV.UK Notify sender needs: a key, the template and where the API is."""

    api_key: str = ""
    template_id: str = ""
    base_url: str = NOTIFY_API
    timeout: float = 10.0


class FileSender:
    """Write each message to <directory>/<Message-ID>.eml, so a resend overwrites, never adds."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage, *, repeat: bool = False) -> None:
        """Write the message atomically under a name derived from its Message-ID."""
        message_id = str(message.get("Message-ID", "")).strip()
        if not message_id:
            raise PermanentEmailError("message has no Message-ID")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.directory / file_name(message_id), message.as_bytes(policy=SMTP))
        except OSError as exc:
            raise TransientEmailError(f"cannot write to the outbox: {exc!r}") from exc


def file_name(message_id: str) -> str:
    """Return a safe file name for a Message-ID: no separators, no leading dot, one per id."""
    raw = message_id.removeprefix("<").removesuffix(">")
    safe = _UNSAFE.sub("_", raw).lstrip(".")[:150]
    if safe != raw:  # keep two ids that sanitise alike apart
        safe = f"{safe}-{hashlib.sha256(raw.encode()).hexdigest()[:16]}"
    return f"{safe}.eml"


def sender_from_settings(
    host: str | None,
    port: int,
    username: str | None,
    password: str | None,
    starttls: bool,
    timeout: float,
    outbox_dir: str | Path,
    *,
    backend: str = "",
    notify: NotifySettings | None = None,
) -> EmailSender:
    """Return the sender the backend names; with none, SMTP when a host is set, else files."""
    if backend not in EMAIL_BACKENDS:
        raise ValueError(f"unknown email backend {backend!r}")
    if backend == "notify":
        notify = notify or NotifySettings()
        return NotifySender(notify.api_key, notify.template_id, notify.base_url, notify.timeout)
    if backend == "smtp" or (host and backend != "file"):
        if not host:
            raise ValueError("EMAIL_BACKEND=smtp needs SMTP_HOST")
        return SmtpSender(host, port, username, password, starttls=starttls, timeout=timeout)
    return FileSender(Path(outbox_dir))


def _write_atomically(path: Path, content: bytes) -> None:
    """Write to a temporary file in the same directory, then rename it over the target."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
