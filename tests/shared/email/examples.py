"""A small two-part email to Jane, for the sender tests."""

from __future__ import annotations

from email.message import EmailMessage

from partnermatch.shared.email.message import build_message
from partnermatch.shared.email.render import RenderedEmail

MESSAGE_ID = "<delivery-42@partnermatch.example>"


def a_message(text: str = "Plain words\n", message_id: str = MESSAGE_ID) -> EmailMessage:
    """Build a small two-part message to Jane."""
    rendered = RenderedEmail(subject="Your recommendations", text=text, html="<p>Rich words</p>")
    return build_message(rendered, sender="noreply@partnermatch.example",
                         to="jane@example.com", message_id=message_id)
