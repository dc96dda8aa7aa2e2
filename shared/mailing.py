"""Sending one email effectively once: claim the delivery row, build it, record the outcome.

Policy for an ambiguous send (the connection dropped before the server's final 250): the email may
or may not have arrived, so it is never resent automatically. The delivery is marked `ambiguous`,
kept with its fixed Message-ID, and shown to operations staff, who can resend it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared import links
from shared.email import build_message, make_message_id, render_confirmation
from shared.email import render_recommendations as render_recommendation_email
from shared.models import EmailDelivery, MatchRun, Profile, utcnow
from shared.results import needs_of

PARTNERS_PER_NEED_IN_EMAIL = 5


@dataclass(frozen=True)
class MailSettings:
    """What composing and retrying need from the settings."""

    secret_key: str
    public_base_url: str
    mail_from: str
    max_attempts: int = 8
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 300.0


def claim(session: Session, delivery_id: str) -> EmailDelivery | None:
    """Take a pending delivery for sending; None if it is not pending (sent, taken, cancelled)."""
    taken = session.execute(
        update(EmailDelivery)
        .where(EmailDelivery.id == delivery_id, EmailDelivery.status == "pending")
        .values(status="sending", claimed_at=utcnow(), attempts=EmailDelivery.attempts + 1)
    )
    if taken.rowcount != 1:
        return None
    delivery = session.get(EmailDelivery, delivery_id)
    session.refresh(delivery)
    return delivery


def compose(session: Session, delivery: EmailDelivery, mail: MailSettings) -> EmailMessage:
    """Build the message for a claimed delivery, with a Message-ID fixed by its id."""
    profile = session.get(Profile, delivery.profile_id)
    subject_name = profile.council.name if profile.council else profile.fields["name"]
    if delivery.purpose == "confirmation":
        token = links.sign(mail.secret_key, links.CONFIRM,
                           {"e": delivery.to_address, "p": profile.id})
        rendered = render_confirmation(profile.fields["contact_name"],
                                       f"{mail.public_base_url}/confirm/{token}", subject_name)
    else:
        rendered = _recommendations(session, profile, delivery, mail, subject_name)
    domain = mail.mail_from.rsplit("@", 1)[-1]
    delivery.message_id = make_message_id(delivery.id, domain)
    return build_message(rendered, sender=mail.mail_from, to=delivery.to_address,
                         message_id=delivery.message_id,
                         to_name=profile.fields["contact_name"])


def _recommendations(session: Session, profile: Profile, delivery: EmailDelivery,
                     mail: MailSettings, subject_name: str):
    run = session.get(MatchRun, delivery.match_run_id)
    needs = needs_of(run, PARTNERS_PER_NEED_IN_EMAIL)
    token = links.sign(mail.secret_key, links.MATCHES, {"p": profile.id})
    return render_recommendation_email(
        profile.fields["contact_name"], subject_name, needs,
        f"{mail.public_base_url}/matches/{token}", shared_contacts(session, needs),
    )


def shared_contacts(session: Session, needs) -> dict[str, tuple[str, str]]:
    """Return contact details of the partners that agreed to share them."""
    ids = {p.profile_id for need in needs for p in need.partners}
    partners = session.scalars(select(Profile).where(Profile.id.in_(ids), Profile.demo.is_(False)))
    return {
        p.id: (p.fields["contact_name"], p.contact_email)
        for p in partners if p.fields.get("share_contact")
    }


def record_sent(session: Session, delivery_id: str) -> None:
    """Mark a delivery sent."""
    _set(session, delivery_id, status="sent", sent_at=utcnow(), last_error=None)


def record_retry(session: Session, delivery: EmailDelivery, error: str,
                 mail: MailSettings) -> bool:
    """Schedule another attempt with backoff and jitter; False when attempts are used up."""
    if delivery.attempts >= mail.max_attempts:
        _set(session, delivery.id, status="failed", last_error=error)
        return False
    delay = min(mail.retry_max_seconds, mail.retry_base_seconds * 2 ** (delivery.attempts - 1))
    delay *= random.uniform(0.5, 1.5)
    _set(session, delivery.id, status="pending", last_error=error,
         next_attempt_at=utcnow() + timedelta(seconds=delay))
    return True


def record_outcome(session: Session, delivery_id: str, status: str, error: str) -> None:
    """Mark a delivery failed for good or ambiguous."""
    _set(session, delivery_id, status=status, last_error=error)


def _set(session: Session, delivery_id: str, **values) -> None:
    session.execute(update(EmailDelivery).where(EmailDelivery.id == delivery_id).values(**values))


def orphaned_sends(session: Session, older_than: timedelta) -> list[EmailDelivery]:
    """Return deliveries claimed by a process that died before recording the outcome."""
    return list(session.scalars(
        select(EmailDelivery).where(EmailDelivery.status == "sending",
                                    EmailDelivery.claimed_at < utcnow() - older_than)
    ))
