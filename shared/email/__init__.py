"""Email: rendering, building the MIME message and handing it to a sender.

Pure: nothing connects at import; senders are built from settings by the caller.
"""

from partnermatch.shared.email.errors import (
    AmbiguousEmailError,
    EmailError,
    PermanentEmailError,
    TransientEmailError,
)
from partnermatch.shared.email.message import build_message, clean_header, make_message_id
from partnermatch.shared.email.render import (
    RenderedEmail,
    render_confirmation,
    render_introduction_accepted,
    render_introduction_request,
    render_profile_links,
    render_recommendations,
)
from partnermatch.shared.email.senders import (
    EmailSender,
    FileSender,
    NotifySender,
    NotifySettings,
    SmtpSender,
    sender_from_settings,
)

__all__ = [
    "AmbiguousEmailError",
    "EmailError",
    "EmailSender",
    "FileSender",
    "NotifySender",
    "NotifySettings",
    "PermanentEmailError",
    "RenderedEmail",
    "SmtpSender",
    "TransientEmailError",
    "build_message",
    "clean_header",
    "make_message_id",
    "render_confirmation",
    "render_introduction_accepted",
    "render_introduction_request",
    "render_profile_links",
    "render_recommendations",
    "sender_from_settings",
]
