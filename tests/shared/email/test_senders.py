"""Senders: the .eml outbox used when no SMTP server is set, and choosing a sender from the
settings (SMTP itself: test_smtp.py)."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from partnermatch.shared.email.errors import (
    PermanentEmailError,
)
from partnermatch.shared.email.senders import (
    FileSender,
    SmtpSender,
    file_name,
    sender_from_settings,
)
from tests.shared.email.examples import MESSAGE_ID, a_message


def raw_message(message_id: str) -> EmailMessage:
    """Build a message with any Message-ID at all, bypassing build_message's checks."""
    message = EmailMessage()
    message["Message-ID"] = message_id
    message.set_content("x")
    return message


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
