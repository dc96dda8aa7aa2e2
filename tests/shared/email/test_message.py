"""Building messages: a fixed Message-ID, both parts, and headers nobody can inject into."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

import pytest

from partnermatch.shared.email.message import build_message, clean_header, make_message_id, one_line
from partnermatch.shared.email.render import RenderedEmail, render_recommendations
from partnermatch.shared.reference.records import NeedMatches, Partner

SENDER = "partnermatch <noreply@partnermatch.example>"
MESSAGE_ID = "<delivery-42@partnermatch.example>"
INJECTIONS = [
    "Foo\r\nBcc: x@y.com",
    "Foo\nBcc: x@y.com",
    "Foo\rBcc: x@y.com",
    "Foo\x00\r\nBcc: x@y.com",
    "=?utf-8?q?Foo=0D=0ABcc:_x@y.com?=",
    "=?utf-8?b?Rm9vDQpCY2M6IHhAeS5jb20=?=",
    "Foo Bcc: x@y.com <evil@y.com>",
    "Foo\u2028Bcc: x@y.com",
]


def parsed(message: EmailMessage) -> EmailMessage:
    """Serialise a message as it goes on the wire and parse it back."""
    return email.message_from_bytes(message.as_bytes(), policy=policy.default)


def text_of(message: EmailMessage, subtype: str) -> str:
    """Return one part's text with line ends as Python writes them."""
    return message.get_body((subtype,)).get_content().replace("\r\n", "\n")


def recommendation_email(name: str) -> EmailMessage:
    """Build a recommendations message where the recipient and profile are both called `name`."""
    kent = Partner("kent", "Kent", "council", None, 0.9, 5, ("Similar",))
    rendered = render_recommendations(
        name, name, [NeedMatches("housing", 1, (kent,))],
        "https://partnermatch.example/m", {}, None,
    )
    return build_message(rendered, sender=SENDER, to="jane@example.com", to_name=name,
                         message_id=MESSAGE_ID)


@pytest.mark.parametrize("name", INJECTIONS)
def test_header_injection_through_names_adds_no_header(name: str) -> None:
    message = parsed(recommendation_email(name))
    assert "Bcc" not in message
    assert len(message.get_all("To")) == 1
    assert [a.addr_spec for a in message["To"].addresses] == ["jane@example.com"]
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    assert "\n" not in message["To"].addresses[0].display_name


def test_message_has_fixed_id_date_and_both_parts() -> None:
    rendered = RenderedEmail(subject="Hello", text="Plain words\n", html="<p>Rich words</p>\n")
    message = parsed(build_message(rendered, sender=SENDER, to="jane@example.com",
                                   message_id=MESSAGE_ID,
                                   list_unsubscribe="https://partnermatch.example/u/1"))
    assert message["Message-ID"] == MESSAGE_ID
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "multipart/alternative"
    assert text_of(message, "plain") == "Plain words\n"
    assert text_of(message, "html") == "<p>Rich words</p>\n"
    assert message["List-Unsubscribe"] == "<https://partnermatch.example/u/1>"


def test_building_twice_gives_the_same_message_id() -> None:
    first, second = (recommendation_email("Jane") for _ in range(2))
    assert first["Message-ID"] == second["Message-ID"] == MESSAGE_ID


@pytest.mark.parametrize("to", ["jane@example.com\r\nBcc: x@y.com", "a@example.com, b@example.com",
                                "nobody", "Foo Bcc: x@y.com <jane@example.com>", ""])
def test_anything_but_one_recipient_address_is_refused(to: str) -> None:
    rendered = RenderedEmail(subject="Hello", text="x", html="x")
    with pytest.raises(ValueError):
        build_message(rendered, sender=SENDER, to=to, message_id=MESSAGE_ID)


@pytest.mark.parametrize("field", ["message_id", "list_unsubscribe"])
def test_malformed_message_id_and_unsubscribe_link_are_refused(field: str) -> None:
    rendered = RenderedEmail(subject="Hello", text="x", html="x")
    values = {"message_id": MESSAGE_ID, field: "<a@b>\r\nBcc: x@y.com"}
    with pytest.raises(ValueError):
        build_message(rendered, sender=SENDER, to="jane@example.com", **values)


@pytest.mark.parametrize(("raw", "clean"), [
    ("Foo\r\nBcc: x@y.com", "Foo Bcc: x@y.com"),
    ("  a\t\tb\x00c\x1bd  ", "a bcd"),
    ("right\u202eleft\u200b", "rightleft"),
    ("=?utf-8?q?x?=", "= ?utf-8?q?x?="),
    ("Barnsley\ud800", "Barnsley"),
])
def test_clean_header_leaves_one_plain_line(raw: str, clean: str) -> None:
    assert clean_header(raw) == clean


def test_message_id_is_derived_from_the_delivery() -> None:
    assert make_message_id("d-42", "partnermatch.example") == "<d-42@partnermatch.example>"
    assert make_message_id("d-42", "partnermatch.example") == make_message_id(
        "d-42", "partnermatch.example")


@pytest.mark.parametrize("delivery_id", ["../x", "a b", "a>b", "a\r\nb", "", "a@b"])
def test_message_id_refuses_odd_delivery_ids(delivery_id: str) -> None:
    with pytest.raises(ValueError):
        make_message_id(delivery_id, "partnermatch.example")


def test_non_ascii_content_is_sent_as_seven_bit() -> None:
    rendered = RenderedEmail(subject="Ynys Môn", text="Cyngor Sir Ynys Môn\n", html="<p>Môn</p>\n")
    message = build_message(rendered, sender=SENDER, to="jane@example.com", message_id=MESSAGE_ID)
    wire = message.as_bytes()
    assert wire.isascii()
    back = parsed(message)
    assert str(back["Subject"]) == "Ynys Môn"
    assert text_of(back, "plain") == "Cyngor Sir Ynys Môn\n"


@pytest.mark.parametrize("value, expected", [
    ("Leeds City Council", "Leeds City Council"),
    ("http://localhost/open/a.b-c_d?x=1", "http://localhost/open/a.b-c_d?x=1"),
    (" Leeds  City\tCouncil\n", "Leeds City Council"),
    ("Leeds\u202e City\u200b", "Leeds City"),
    ("Caerffili \u2013 Sir Fynwy", "Caerffili \u2013 Sir Fynwy"),
    ("", ""),
])
def test_one_line_keeps_plain_text_as_it_is_and_cleans_the_rest(value, expected) -> None:
    assert one_line(value) == expected
