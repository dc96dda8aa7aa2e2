"""Senders: SMTP against a real aiosmtpd server, and the .eml outbox used when none is set."""

from __future__ import annotations

import email
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from partnermatch.shared.email.errors import (
    AmbiguousEmailError,
    PermanentEmailError,
    TransientEmailError,
)
from partnermatch.shared.email.message import build_message
from partnermatch.shared.email.render import RenderedEmail
from partnermatch.shared.email.senders import (
    FileSender,
    SmtpSender,
    file_name,
    sender_from_settings,
)

MESSAGE_ID = "<delivery-42@partnermatch.example>"


def a_message(text: str = "Plain words\n", message_id: str = MESSAGE_ID) -> EmailMessage:
    """Build a small two-part message to Jane."""
    rendered = RenderedEmail(subject="Your recommendations", text=text, html="<p>Rich words</p>")
    return build_message(rendered, sender="noreply@partnermatch.example",
                         to="jane@example.com", message_id=message_id)


def raw_message(message_id: str) -> EmailMessage:
    """Build a message with any Message-ID at all, bypassing build_message's checks."""
    message = EmailMessage()
    message["Message-ID"] = message_id
    message.set_content("x")
    return message


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


def test_file_sender_writes_one_file_per_message_id_even_when_sent_twice(tmp_path: Path) -> None:
    outbox = FileSender(tmp_path / "outbox")
    outbox.send(a_message("first\n"))
    outbox.send(a_message("second\n"))
    [written] = list((tmp_path / "outbox").iterdir())
    assert written.name == "delivery-42@partnermatch.example.eml"
    saved = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    assert saved["Message-ID"] == MESSAGE_ID
    assert "second" in saved.get_body(("plain",)).get_content()


@pytest.mark.parametrize("message_id", [
    "<../../escaped@x>", "<..@x>", "<a/../../b@x>", "<..\\..\\b@x>", "<.hidden@x>", "../../x",
    "<" + "a" * 400 + "@x>",
])
def test_file_sender_keeps_every_message_inside_its_directory(tmp_path, message_id) -> None:
    outbox = tmp_path / "outbox"
    FileSender(outbox).send(raw_message(message_id))
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(written) == 1
    assert written[0].parent == outbox
    assert not written[0].name.startswith(".")
    assert len(written[0].name) < 255


def test_ids_that_sanitise_alike_get_different_files() -> None:
    assert file_name("<a/b@x>") != file_name("<a_b@x>")
    assert file_name("<a/b@x>") == file_name("<a/b@x>")


def test_file_sender_refuses_a_message_without_an_id(tmp_path: Path) -> None:
    with pytest.raises(PermanentEmailError):
        FileSender(tmp_path).send(EmailMessage())


def test_settings_choose_smtp_only_when_a_host_is_set(tmp_path: Path) -> None:
    smtp = sender_from_settings("mail.example", 587, "u", "p", True, 3.0, tmp_path)
    assert isinstance(smtp, SmtpSender) and smtp.starttls and smtp.timeout == 3.0
    for host in (None, ""):
        outbox = sender_from_settings(host, 25, None, None, False, 10.0, str(tmp_path))
        assert isinstance(outbox, FileSender) and outbox.directory == tmp_path
