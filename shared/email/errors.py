"""Why an email was not sent, in the three ways a caller must treat differently."""

from __future__ import annotations


class EmailError(Exception):
    """Sending an email failed; `code` is the SMTP reply code when there was one."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class PermanentEmailError(EmailError):
    """The server refused the message for good: do not retry until something changes."""


class TransientEmailError(EmailError):
    """The message was certainly not accepted and may be retried later."""


class AmbiguousEmailError(EmailError):
    """The connection was lost after the message was sent: it may or may not have arrived."""
