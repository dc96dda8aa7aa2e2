"""Send email over SMTP, telling failures that are safe to retry from ones that are not."""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses, parseaddr

from partnermatch.shared.email.errors import (
    AmbiguousEmailError,
    EmailError,
    PermanentEmailError,
    TransientEmailError,
)

_LINE_STARTING_WITH_DOT = re.compile(rb"^\.", re.MULTILINE)


class SmtpSender:
    """Send messages to one SMTP server over one connection, kept open between messages.

    The connection is opened on the first message and reused after; any failure closes it, so the
    next message opens a fresh one. A reused connection the server has dropped meanwhile (an idle
    timeout, a restart) fails before any message data leaves, and the message then goes once over
    a new connection. `close` says goodbye; a worker process calls it when it shuts down.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.starttls = username, password, starttls
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage, *, repeat: bool = False) -> None:
        """Send one message, raising Permanent, Transient or AmbiguousEmailError on failure.

        A repeat goes with the same Message-ID: SMTP has no way to ask whether it arrived.
        """
        sender, recipients = _envelope(message)
        payload = message.as_bytes(policy=SMTP)
        # Driven step by step, because what a failure means depends on when it happens.
        try:
            smtp = self._transaction(sender, recipients)
            _send_data(smtp, payload)
        except BaseException:
            self.close()  # whatever state the connection is in, the next message starts afresh
            raise

    def close(self) -> None:
        """Close the connection, if one is open; the next message opens another."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _close(smtp)

    def _transaction(self, sender: str, recipients: list[str]) -> smtplib.SMTP:
        """Return a connection on which MAIL, RCPT and DATA were accepted."""
        if self._smtp is not None and self._reused(sender, recipients):
            return self._smtp
        with _not_sent():
            self._smtp = self._connect()
            _open_transaction(self._smtp, sender, recipients)
        return self._smtp

    def _reused(self, sender: str, recipients: list[str]) -> bool:
        """Open the transaction on the kept connection; False if the server had dropped it.

        Nothing of the message has left yet, so a new connection may safely try again.
        """
        try:
            _open_transaction(self._smtp, sender, recipients)
            return True
        except EmailError as exc:
            if exc.code != 421:  # 421: the server is closing this connection
                raise
        except TimeoutError as exc:  # alive but silent: a new connection would wait as long
            raise TransientEmailError(f"not sent: {exc!r}") from exc
        except OSError:  # reset, broken pipe, SMTPServerDisconnected: dropped while idle
            pass
        self.close()
        return False

    def _connect(self) -> smtplib.SMTP:
        """Open a connection, greet the server, then switch to TLS and log in if configured to."""
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo_or_helo_if_needed()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            _close(smtp)
            raise
        return smtp


@contextmanager
def _not_sent() -> Iterator[None]:
    """Classify a failure before any message data left: 5xx is permanent, the rest transient."""
    try:
        yield
    except smtplib.SMTPResponseException as exc:
        raise _refused(exc.smtp_code, exc.smtp_error) from exc
    except OSError as exc:  # includes every other SMTPException, refused connections, timeouts
        raise TransientEmailError(f"not sent: {exc!r}") from exc


def _open_transaction(smtp: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
    """Send MAIL, RCPT and DATA, stopping at the first reply that is not a go-ahead."""
    code, reply = smtp.mail(sender)
    if code != 250:
        raise _refused(code, reply)
    for recipient in recipients:
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            raise _refused(code, reply)
    code, reply = smtp.docmd("DATA")
    if code != 354:
        raise _refused(code, reply)


def _send_data(smtp: smtplib.SMTP, payload: bytes) -> None:
    """Send the message data and read the final reply, which alone says it was accepted."""
    stuffed = _LINE_STARTING_WITH_DOT.sub(b"..", payload)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    try:
        smtp.send(stuffed + b".\r\n")
    except OSError as exc:  # the closing dot never left, so the server cannot have accepted it
        raise TransientEmailError(f"connection lost while sending data: {exc!r}") from exc
    try:
        code, reply = smtp.getreply()
    except OSError as exc:
        raise AmbiguousEmailError(f"connection lost before the final reply: {exc!r}") from exc
    if code != 250:
        raise _refused(code, reply)


def _refused(code: int, reply: bytes | str) -> EmailError:
    """Turn an SMTP reply into an error: 5xx is permanent, anything else may be retried."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    error = PermanentEmailError if 500 <= code <= 599 else TransientEmailError
    return error(f"{code} {text}", code=code)


def _envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """Return the envelope sender and recipients, taken from the From, To and Cc headers."""
    _, sender = parseaddr(str(message.get("From", "")))
    headers = [str(value) for name in ("To", "Cc") for value in message.get_all(name, [])]
    recipients = [address for _, address in getaddresses(headers) if address]
    if not sender or not recipients:
        raise PermanentEmailError("message has no sender or no recipient")
    if not all(address.isascii() for address in (sender, *recipients)):
        raise PermanentEmailError("non-ASCII addresses need SMTPUTF8, which is not used")
    return sender, recipients


def _close(smtp: smtplib.SMTP) -> None:
    """Say goodbye; nothing that fails now can change what the server decided."""
    try:
        smtp.quit()
    except OSError:
        smtp.close()
