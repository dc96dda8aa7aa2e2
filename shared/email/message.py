"""Build the MIME message for a rendered email, with headers nobody can inject into."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from email.errors import ObsoleteHeaderDefect
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from partnermatch.shared.email.render import RenderedEmail


class _HeaderClasses(HeaderRegistry):
    """The standard header classes, each made once: HeaderRegistry makes a new class for every
    header of every message (a tenth of building a recommendations email); the headers are
    the same."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# 7bit: non-ASCII bodies go as quoted-printable or base64, so no server needs 8BITMIME.
_POLICY = SMTP.clone(cte_type="7bit", header_factory=_HeaderClasses())
_DOT_ATOM = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_LINK = re.compile(r"(?:https?|mailto):[^<>,\s]+")
# Control characters, invisible formatting (bidi overrides, zero-width) and lone surrogates.
_DROPPED = frozenset({"Cc", "Cf", "Cs"})
_PLAIN = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words, single spaces between


def one_line(value: str) -> str:
    """Drop control and invisible formatting characters and collapse whitespace to single spaces."""
    if _PLAIN.fullmatch(value):  # already one line (most names and every link): nothing to drop
        return value
    kept = (ch for ch in value if ch.isspace() or unicodedata.category(ch) not in _DROPPED)
    return " ".join("".join(kept).split())


def clean_header(value: str) -> str:
    """Return a header value on one line with no control characters and no encoded words."""
    # The parser decodes "=?utf-8?q?...=0D=0A...?=" back into a CRLF, so no "=?" may survive.
    return one_line(value).replace("=?", "= ?")


def make_message_id(delivery_id: str, domain: str) -> str:
    """Return the Message-ID of a delivery: the same on every attempt, so a retry reuses it."""
    if not (_DOT_ATOM.fullmatch(delivery_id) and _DOT_ATOM.fullmatch(domain)):
        raise ValueError("delivery id and domain must be letters, digits, '-', '_' and dots")
    return f"<{delivery_id}@{domain}>"


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    to: str,
    message_id: str,
    list_unsubscribe: str | None = None,
    to_name: str | None = None,
    one_click_unsubscribe: bool = False,
) -> EmailMessage:
    """Build a multipart/alternative message with a fixed Message-ID and sanitised headers.

    With `one_click_unsubscribe`, List-Unsubscribe-Post (RFC 8058) says the List-Unsubscribe
    address accepts a POST of "List-Unsubscribe=One-Click".
    """
    message = EmailMessage(policy=_POLICY)
    _set_address(message, "From", sender)
    _set_address(message, "To", to, to_name)
    message["Subject"] = clean_header(rendered.subject)
    message["Date"] = datetime.now(UTC)
    message["Message-ID"] = _checked(message_id, _MESSAGE_ID, "Message-ID")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office robots stay quiet
    if list_unsubscribe:
        link = clean_header(list_unsubscribe).removeprefix("<").removesuffix(">")
        message["List-Unsubscribe"] = f"<{_checked(link, _LINK, 'List-Unsubscribe')}>"
        if one_click_unsubscribe:
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def _checked(value: str, pattern: re.Pattern[str], name: str) -> str:
    """Return the cleaned value, or refuse it if it is not the expected shape."""
    cleaned = clean_header(value)
    if not pattern.fullmatch(cleaned):
        raise ValueError(f"{name} is malformed: {cleaned!r}")
    return cleaned


def _set_address(
    message: EmailMessage, name: str, address: str, display_name: str | None = None
) -> None:
    """Set an address header, refusing anything but exactly one well-formed mailbox."""
    value: str | Address = clean_header(address)
    if display_name and clean_header(display_name):
        # Address quotes the name, so "Foo Bcc: x@y.com" stays a name and never becomes a group.
        value = Address(display_name=clean_header(display_name), addr_spec=clean_header(address))
    message[name] = value
    header = message[name]
    mailboxes = header.addresses
    serious = [d for d in header.defects if not isinstance(d, ObsoleteHeaderDefect)]
    if len(mailboxes) != 1 or serious or not (mailboxes[0].username and mailboxes[0].domain):
        raise ValueError(f"{name} must be exactly one valid address")
