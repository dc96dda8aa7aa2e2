"""SMTP against a real aiosmtpd server: one connection kept for many emails, and each failure
classified as permanent, transient or ambiguous by when it happened."""

from __future__ import annotations

import email
import time
from email import policy

import pytest

from partnermatch.shared.email.errors import (
    AmbiguousEmailError,
    PermanentEmailError,
    TransientEmailError,
)
from partnermatch.shared.email.smtp import SmtpSender
from tests.shared.email.examples import MESSAGE_ID, a_message


def smtp_to(port: int, timeout: float = 5.0) -> SmtpSender:
    """Return a sender for a server on 127.0.0.1."""
    return SmtpSender("127.0.0.1", port, timeout=timeout)


def test_smtp_delivers_one_message_with_both_parts(smtp_server) -> None:
    text = "Plain words\n.\n.a line starting with a dot\n"
    smtp_to(smtp_server.port).send(a_message(text))
    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == "noreply@partnermatch.example"
    assert envelope.rcpt_tos == ["jane@example.com"]
    received = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert received["Message-ID"] == MESSAGE_ID
    plain = received.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain == text
    assert received.get_body(("html",)).get_content().strip() == "<p>Rich words</p>"


def test_smtp_sends_one_message_after_another_over_one_connection(smtp_server) -> None:
    sender = smtp_to(smtp_server.port)
    sender.send(a_message(message_id="<first@partnermatch.example>"))
    sender.send(a_message(message_id="<second@partnermatch.example>"))
    sender.close()
    assert len(smtp_server.envelopes) == 2
    assert smtp_server.peers[0] == smtp_server.peers[1]  # the same client port: one connection


def test_smtp_connection_dropped_between_two_emails_sends_the_next_once(smtp_server) -> None:
    sender = smtp_to(smtp_server.port)
    sender.send(a_message(message_id="<first@partnermatch.example>"))
    smtp_server.drop_connections()
    sender.send(a_message(message_id="<second@partnermatch.example>"))
    sender.close()
    received = [email.message_from_bytes(e.original_content)["Message-ID"]
                for e in smtp_server.envelopes]
    assert received == ["<first@partnermatch.example>", "<second@partnermatch.example>"]
    assert smtp_server.peers[0] != smtp_server.peers[1]  # the second over a new connection


def test_smtp_failure_closes_the_connection_and_the_next_email_opens_another(smtp_server) -> None:
    sender = smtp_to(smtp_server.port)
    sender.send(a_message(message_id="<first@partnermatch.example>"))
    smtp_server.data_reply = "451 try later"
    with pytest.raises(TransientEmailError):
        sender.send(a_message(message_id="<second@partnermatch.example>"))
    smtp_server.data_reply = "250 OK"
    sender.send(a_message(message_id="<second@partnermatch.example>"))
    sender.close()
    assert len(smtp_server.envelopes) == 3  # the refused one reached DATA, then was sent again
    assert smtp_server.peers[0] == smtp_server.peers[1] != smtp_server.peers[2]


@pytest.mark.parametrize("stage", ["rcpt", "data"])
@pytest.mark.parametrize(("reply", "error"), [
    ("550 No such user", PermanentEmailError),
    ("451 try later", TransientEmailError),
])
def test_smtp_refusals_are_classified_by_reply_code(smtp_server, stage, reply, error) -> None:
    setattr(smtp_server, f"{stage}_reply", reply)
    with pytest.raises(error) as raised:
        smtp_to(smtp_server.port).send(a_message())
    assert raised.value.code == int(reply[:3])


def test_smtp_nothing_listening_is_transient_and_fast(unused_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(TransientEmailError):
        smtp_to(unused_port, timeout=1.0).send(a_message())
    assert time.monotonic() - started < 2


def test_smtp_server_that_never_greets_times_out_as_transient(silent_port) -> None:
    started = time.monotonic()
    with pytest.raises(TransientEmailError):
        smtp_to(silent_port, timeout=0.5).send(a_message())
    assert time.monotonic() - started < 3


def test_smtp_hang_up_after_the_data_but_before_the_reply_is_ambiguous(smtp_server) -> None:
    smtp_server.hang_up_at = "data"
    with pytest.raises(AmbiguousEmailError, match="before the final reply"):
        smtp_to(smtp_server.port).send(a_message())
    assert len(smtp_server.envelopes) == 1  # the server did get it: only the 250 was lost


def test_smtp_hang_up_before_the_data_is_transient(smtp_server) -> None:
    smtp_server.hang_up_at = "rcpt"
    with pytest.raises(TransientEmailError):
        smtp_to(smtp_server.port).send(a_message())
    assert smtp_server.envelopes == []


def test_smtp_final_reply_slower_than_the_timeout_is_ambiguous(smtp_server) -> None:
    smtp_server.data_delay = 3.0
    started = time.monotonic()
    with pytest.raises(AmbiguousEmailError, match="before the final reply"):
        smtp_to(smtp_server.port, timeout=0.5).send(a_message())
    assert time.monotonic() - started < 2.5
