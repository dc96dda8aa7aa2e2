"""Send email through GOV.UK Notify, telling failures that are safe to retry from ones that are not.

Notify fills one email template of the service's: its subject is ``((subject))`` and its body
``((body))``, and partnermatch supplies both from the plain-text part of the message it built. The
delivery's Message-ID goes as Notify's `reference`, the same on every attempt, so a repeat attempt
first asks Notify whether it already accepted that reference and never sends it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

import requests
from notifications_python_client.errors import APIError, InvalidResponse
from notifications_python_client.notifications import NotificationsAPIClient
from urllib3.exceptions import MaxRetryError, NewConnectionError

from partnermatch.shared.email.errors import (
    AmbiguousEmailError,
    EmailError,
    PermanentEmailError,
    TransientEmailError,
)

NOTIFY_API = "https://api.notifications.service.gov.uk"
# Notify's answers that no retry can change: a request it will not take (400: a bad address, a
# trial-mode recipient) or a key it does not know (403); 429 and 5xx pass with time.
_PERMANENT = (400, 401, 403, 404)


@dataclass(frozen=True)
class NotifyRequest:
    """The fields of one POST /v2/notifications/email."""

    email_address: str
    template_id: str
    personalisation: dict[str, str]
    reference: str
    one_click_unsubscribe_url: str | None = None


class NotifySender:
    """Send each message as one Notify email notification, with the delivery's reference."""

    def __init__(self, api_key: str, template_id: str, base_url: str = NOTIFY_API,
                 timeout: float = 10.0) -> None:
        if not api_key or not template_id:
            raise ValueError("EMAIL_BACKEND=notify needs NOTIFY_API_KEY and NOTIFY_TEMPLATE_ID")
        self.template_id = template_id
        self.client = NotificationsAPIClient(api_key, base_url=base_url or NOTIFY_API,
                                             timeout=timeout)

    def send(self, message: EmailMessage, *, repeat: bool = False) -> None:
        """Send one message; on a repeat attempt, first check Notify has not already got it."""
        request = notify_request(message, self.template_id)
        if repeat and self.accepted(request.reference):
            return
        try:
            self.client.send_email_notification(**vars(request))
        except InvalidResponse as error:
            if error.status_code >= 300:  # a 2xx whose body was not JSON was still accepted
                raise classify(error) from error
        except APIError as error:
            raise classify(error) from error

    def accepted(self, reference: str) -> bool:
        """Say whether Notify holds a notification with this reference (it keeps 7 days)."""
        try:
            found = self.client.get_all_notifications(template_type="email", reference=reference)
        except APIError as error:
            raise TransientEmailError(f"cannot ask Notify about {reference}: {error}") from error
        return bool(found.get("notifications"))


def notify_request(message: EmailMessage, template_id: str) -> NotifyRequest:
    """Turn a built message into Notify's fields: address, subject, text body, reference."""
    _, address = parseaddr(str(message.get("To", "")))
    reference = str(message.get("Message-ID", "")).strip().removeprefix("<").removesuffix(">")
    if not address or not reference:
        raise PermanentEmailError("message has no recipient or no Message-ID")
    text = message.get_body(("plain",))
    body = text.get_content() if text is not None else ""
    return NotifyRequest(
        email_address=address, template_id=template_id,
        personalisation={"subject": str(message.get("Subject", "")), "body": body},
        reference=reference, one_click_unsubscribe_url=_unsubscribe_url(message),
    )


def _unsubscribe_url(message: EmailMessage) -> str | None:
    """Return the one-click unsubscribe link, which Notify puts in List-Unsubscribe itself."""
    if "List-Unsubscribe-Post" not in message:
        return None
    return str(message["List-Unsubscribe"]).strip().removeprefix("<").removesuffix(">")


def classify(error: APIError) -> EmailError:
    """Turn Notify's answer, or the lack of one, into a permanent, transient or ambiguous error."""
    if error.response is None:
        return _no_answer(error.__cause__)
    code = error.status_code
    reason = f"Notify answered {code}: {error.message}"
    if code in _PERMANENT:
        return PermanentEmailError(reason, code=code)
    return TransientEmailError(reason, code=code)  # 429, 5xx and anything unforeseen


def _no_answer(cause: BaseException | None) -> EmailError:
    """No answer: not sent if the connection never opened, else it may have been accepted."""
    if isinstance(cause, requests.ConnectTimeout) or _never_connected(cause):
        return TransientEmailError(f"not sent: cannot reach Notify ({cause!r})")
    if isinstance(cause, requests.Timeout | requests.ConnectionError):
        return AmbiguousEmailError(f"no answer from Notify after sending: {cause!r}")
    return TransientEmailError(f"not sent: {cause!r}")


def _never_connected(cause: BaseException | None) -> bool:
    """Say whether a connection error happened while connecting (refused, unknown host)."""
    if not isinstance(cause, requests.ConnectionError) or not cause.args:
        return False
    reason = cause.args[0]
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)
