"""Sending one email effectively once: claim the delivery row, build it, record the outcome.

Policy for an ambiguous send (the connection dropped before the server's final 250): the email may
or may not have arrived, so it is never resent automatically. The delivery is marked `ambiguous`,
kept with its fixed Message-ID, and shown to operations staff, who can resend it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from partnermatch.shared.db.models import EmailDelivery, Profile, utcnow
from partnermatch.shared.db.statuses import DeliveryStatus
from partnermatch.shared.email import (
    RenderedEmail,
    build_message,
    make_message_id,
    render_confirmation,
    render_profile_links,
)
from partnermatch.shared.notifications import links
from partnermatch.shared.reference.addresses import may_share_contact


@dataclass(frozen=True)
class MailSettings:
    """What composing and retrying need from the settings."""

    secret_key: str
    public_base_url: str
    mail_from: str
    max_attempts: int = 8
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 300.0
    reference_data_dir: str | None = None  # for the websites of councils that have not joined


# What an email says, and its unsubscribe link if it has one.
Composer = Callable[[Session, Profile, EmailDelivery, MailSettings],
                    tuple[RenderedEmail, str | None]]


def claim(session: Session, delivery_id: str) -> EmailDelivery | None:
    """Take a pending delivery for sending; None if it is not pending (sent, taken, cancelled)."""
    return session.scalar(
        update(EmailDelivery)
        .where(EmailDelivery.id == delivery_id, EmailDelivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SENDING, claimed_at=utcnow(),
                attempts=EmailDelivery.attempts + 1)
        .returning(EmailDelivery),
        execution_options={"populate_existing": True},
    )


def compose(session: Session, delivery: EmailDelivery, mail: MailSettings,
            composer: Composer | None = None) -> EmailMessage:
    """Build the message for a claimed delivery, with a Message-ID fixed by its id.

    `composer` writes what the email says; by default the one for its purpose here (confirmation,
    links). The emails about recommendations and introductions say what that room knows, so
    partnermatch.shared.recommendations.emails composes them, passing its composer in.
    """
    profile = session.get(Profile, delivery.profile_id)
    rendered, unsubscribe_url = (composer or COMPOSERS[delivery.purpose])(
        session, profile, delivery, mail)
    domain = mail.mail_from.rsplit("@", 1)[-1]
    delivery.message_id = make_message_id(delivery.id, domain)
    # A confirmation goes to an address nobody has vouched for: no name the submitter typed.
    to_name = None if delivery.purpose == "confirmation" else profile.fields["contact_name"]
    return build_message(rendered, sender=mail.mail_from, to=delivery.to_address,
                         message_id=delivery.message_id, to_name=to_name,
                         list_unsubscribe=unsubscribe_url,
                         one_click_unsubscribe=unsubscribe_url is not None)


def display_name(profile: Profile) -> str:
    """Return the name a profile goes by: its council's, or the supplier's."""
    return profile.council.name if profile.council else profile.fields["name"]


def signed_url(mail: MailSettings, path: str, purpose: str, payload: dict) -> str:
    """Return a link to a page of the service, carrying a payload signed for one purpose."""
    return f"{mail.public_base_url}/{path}/{links.sign(mail.secret_key, purpose, payload)}"


def profile_url(mail: MailSettings, profile: Profile) -> str:
    """Return a private, single-use link that opens a profile's page."""
    return signed_url(mail, "open", links.MANAGE, {"p": profile.id, "e": profile.contact_email})


def _confirmation(session: Session, profile: Profile, delivery: EmailDelivery,
                  mail: MailSettings) -> tuple[RenderedEmail, None]:
    url = signed_url(mail, "confirm", links.CONFIRM, {"e": delivery.to_address, "p": profile.id})
    council_name = profile.council.name if profile.council else None  # from the register
    return render_confirmation(url, council_name), None


def _profile_links(session: Session, profile: Profile, delivery: EmailDelivery,
                   mail: MailSettings) -> tuple[RenderedEmail, None]:
    profiles = session.scalars(select(Profile).where(Profile.contact_email == delivery.to_address)
                               .order_by(Profile.created_at))
    named = [(display_name(p), profile_url(mail, p)) for p in profiles]
    return render_profile_links(profile.fields["contact_name"], named), None


COMPOSERS: dict[str, Composer] = {
    "confirmation": _confirmation,
    "link": _profile_links,
}


def shared_contacts(session: Session, needs) -> dict[str, tuple[str, str]]:
    """Return contact details of the partners that agreed to share them and may (confirmed,
    and for councils on their own domain or verified by a person)."""
    ids = {p.profile_id for need in needs for p in need.partners}
    partners = session.scalars(select(Profile).where(Profile.id.in_(ids), Profile.demo.is_(False))
                               .options(lazyload(Profile.council)))
    return {
        p.id: (p.fields["contact_name"], p.contact_email)
        for p in partners if p.fields.get("share_contact") and may_share_contact(p)
    }


def record_sent(session: Session, delivery_id: str) -> None:
    """Mark a delivery sent."""
    _set(session, delivery_id, status=DeliveryStatus.SENT, sent_at=utcnow(), last_error=None)


def record_retry(session: Session, delivery: EmailDelivery, error: str,
                 mail: MailSettings) -> bool:
    """Schedule another attempt with backoff and jitter; False when attempts are used up."""
    if delivery.attempts >= mail.max_attempts:
        _set(session, delivery.id, status=DeliveryStatus.FAILED, last_error=error)
        return False
    delay = min(mail.retry_max_seconds, mail.retry_base_seconds * 2 ** (delivery.attempts - 1))
    delay *= random.uniform(0.5, 1.5)
    _set(session, delivery.id, status=DeliveryStatus.PENDING, last_error=error,
         next_attempt_at=utcnow() + timedelta(seconds=delay))
    return True


def record_outcome(session: Session, delivery_id: str, status: DeliveryStatus,
                   error: str) -> None:
    """Mark a delivery failed for good or ambiguous."""
    _set(session, delivery_id, status=status, last_error=error)


def _set(session: Session, delivery_id: str, **values) -> None:
    session.execute(update(EmailDelivery).where(EmailDelivery.id == delivery_id).values(**values))


def orphaned_sends(session: Session, older_than: timedelta) -> list[EmailDelivery]:
    """Return deliveries claimed by a process that died before recording the outcome."""
    return list(session.scalars(
        select(EmailDelivery).where(EmailDelivery.status == DeliveryStatus.SENDING,
                                    EmailDelivery.claimed_at < utcnow() - older_than)
    ))
