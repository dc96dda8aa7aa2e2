"""The GOV.UK Notify sender against a local server that speaks Notify's API and its errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from partnermatch.services.embedded import free_port
from partnermatch.shared.email.errors import (
    AmbiguousEmailError,
    PermanentEmailError,
    TransientEmailError,
)
from partnermatch.shared.email.message import build_message
from partnermatch.shared.email.notify import NotifySender
from partnermatch.shared.email.render import RenderedEmail
from partnermatch.shared.email.senders import NotifySettings, sender_from_settings
from tests.notify_server import API_KEY, SERVICE_ID, TEMPLATE_ID, NotifyServer

UNSUBSCRIBE = "https://partnermatch.example/unsubscribe/abc.def"


@pytest.fixture
def notify() -> Iterator[NotifyServer]:
    server = NotifyServer()
    yield server
    server.stop()


def a_message(delivery: str = "delivery-42", unsubscribe: str | None = UNSUBSCRIBE):
    rendered = RenderedEmail(subject="Partner recommendations for Leeds",
                             text="Hello Sam,\n\nWakefield, 91% match\n", html="<p>Hello Sam</p>")
    return build_message(rendered, sender="partnermatch@partnermatch.example",
                         to="sam.officer@leeds.gov.uk", to_name="Sam Officer",
                         message_id=f"<{delivery}@partnermatch.example>",
                         list_unsubscribe=unsubscribe, one_click_unsubscribe=bool(unsubscribe))


def sender(server: NotifyServer, key: str = API_KEY, timeout: float = 5.0) -> NotifySender:
    return NotifySender(key, TEMPLATE_ID, server.url, timeout)


def test_an_email_goes_as_one_notification_with_its_reference_and_unsubscribe_link(notify):
    sender(notify).send(a_message())
    [sent] = notify.state.notifications
    assert sent["email_address"] == "sam.officer@leeds.gov.uk"
    assert sent["template_id"] == TEMPLATE_ID
    assert sent["reference"] == "delivery-42@partnermatch.example"
    assert sent["one_click_unsubscribe_url"] == UNSUBSCRIBE
    content = sent["answer"]["content"]
    assert content["subject"] == "Partner recommendations for Leeds"
    assert "Wakefield, 91% match" in content["body"]


def test_an_email_without_an_unsubscribe_link_sends_none(notify):
    sender(notify).send(a_message(unsubscribe=None))
    assert "one_click_unsubscribe_url" not in notify.state.notifications[0]


@pytest.mark.parametrize(("status", "error"), [
    (400, PermanentEmailError),
    (403, PermanentEmailError),
    (429, TransientEmailError),
    (500, TransientEmailError),
    (503, TransientEmailError),
])
def test_notify_error_answers_are_classified(notify, status, error):
    notify.state.answers.append(status)
    with pytest.raises(error) as raised:
        sender(notify).send(a_message())
    assert raised.value.code == status
    assert str(status) in raised.value.reason
    assert notify.state.notifications == []


def test_a_key_notify_does_not_know_is_refused_for_good(notify):
    wrong = f"partnermatch_test-{SERVICE_ID}-00000000-0000-0000-0000-000000000000"
    with pytest.raises(PermanentEmailError, match="403"):
        sender(notify, key=wrong).send(a_message())
    assert notify.state.notifications == []


def test_an_address_notify_rejects_is_refused_for_good(notify):
    rendered = RenderedEmail(subject="s", text="t\n", html="<p>t</p>")
    message = build_message(rendered, sender="a@partnermatch.example", to="sam@localhost",
                            message_id="<d1@partnermatch.example>")
    with pytest.raises(PermanentEmailError, match="Not a valid email address"):
        sender(notify).send(message)


def test_nobody_listening_is_not_sent_and_may_be_retried():
    closed = NotifySender(API_KEY, TEMPLATE_ID, f"http://127.0.0.1:{free_port()}", 2.0)
    with pytest.raises(TransientEmailError, match="not sent"):
        closed.send(a_message())


def test_a_hang_up_after_sending_is_ambiguous(notify):
    notify.state.hang_up_after_accepting = 1
    with pytest.raises(AmbiguousEmailError):
        sender(notify).send(a_message())
    assert len(notify.state.notifications) == 1


def test_a_timeout_after_sending_is_ambiguous(notify):
    notify.state.answer_delay = 2.0
    with pytest.raises(AmbiguousEmailError, match="no answer"):
        sender(notify, timeout=0.5).send(a_message())


def test_a_repeat_attempt_is_recognised_by_its_reference_and_not_sent_twice(notify):
    notify.state.hang_up_after_accepting = 1
    with pytest.raises(AmbiguousEmailError):
        sender(notify).send(a_message())
    sender(notify).send(a_message(), repeat=True)  # an operator resends it
    assert len(notify.state.notifications) == 1


def test_a_repeat_attempt_that_notify_never_got_is_sent(notify):
    notify.state.answers.append(500)
    with pytest.raises(TransientEmailError):
        sender(notify).send(a_message())
    sender(notify).send(a_message(), repeat=True)
    sender(notify).send(a_message("another-delivery"), repeat=True)
    references = [n["reference"] for n in notify.state.notifications]
    assert references == ["delivery-42@partnermatch.example",
                          "another-delivery@partnermatch.example"]


def test_the_backend_setting_chooses_notify(tmp_path, notify):
    settings = NotifySettings(API_KEY, TEMPLATE_ID, notify.url, 3.0)
    chosen = sender_from_settings("mail.example", 25, None, None, False, 10.0, tmp_path,
                                  backend="notify", notify=settings)
    assert isinstance(chosen, NotifySender) and chosen.client.timeout == 3.0
    chosen.send(a_message())
    assert len(notify.state.notifications) == 1


def test_notify_without_a_key_or_template_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="NOTIFY_API_KEY and NOTIFY_TEMPLATE_ID"):
        sender_from_settings("", 25, None, None, False, 10.0, tmp_path, backend="notify",
                             notify=NotifySettings(api_key=API_KEY))
