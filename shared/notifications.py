"""Which emails are owed: confirmation first, recommendations only to confirmed addresses.

Each email is an EmailDelivery row with a unique dedupe key, created in the same transaction as its
cause, so a retry or a replayed event can never owe the same email twice.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.models import ContactAddress, EmailDelivery, MatchRun, Profile, utcnow
from shared.results import latest_run


def is_example_address(address: str) -> bool:
    """Say whether an address is one we never write to (demo and documentation domains)."""
    domain = address.rsplit("@", 1)[-1].lower()
    return domain.endswith((".invalid", ".example", ".test")) or domain in (
        "example.com", "example.org", "example.net", "invalid", "example")


def _owe(session: Session, dedupe_key: str, purpose: str, profile: Profile,
         match_run_id: str | None = None) -> EmailDelivery | None:
    if is_example_address(profile.contact_email) or profile.demo:
        return None
    if session.scalar(select(EmailDelivery.id).where(EmailDelivery.dedupe_key == dedupe_key)):
        return None
    delivery = EmailDelivery(
        dedupe_key=dedupe_key, purpose=purpose, profile_id=profile.id,
        match_run_id=match_run_id, to_address=profile.contact_email, message_id="",
    )
    delivery.message_id = f"<{delivery.id}@partnermatch>"
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:  # a concurrent worker owed it first
        return None
    return delivery


def owe_confirmation(session: Session, profile: Profile, required: bool) -> EmailDelivery | None:
    """Owe a confirmation email when the profile's address has not been confirmed yet."""
    contact = session.get(ContactAddress, profile.contact_email)
    if contact is None:
        contact = ContactAddress(email=profile.contact_email)
        session.add(contact)
        if not required:
            contact.confirmed_at = utcnow()
    if contact.confirmed_at is not None:
        return None
    return _owe(session, f"confirm:{profile.id}:{profile.contact_email}", "confirmation", profile)


def owe_recommendations(session: Session, profile: Profile, run: MatchRun) -> EmailDelivery | None:
    """Owe the recommendation email for a match run, if the address is confirmed and opted in."""
    contact = session.get(ContactAddress, profile.contact_email)
    if contact is None or contact.confirmed_at is None or contact.unsubscribed_at is not None:
        return None
    if run.status != "ready" or run.profile_version != profile.version:
        return None
    return _owe(session, f"recommendations:{run.id}", "recommendations", profile, run.id)


def confirm_address(session: Session, address: str) -> list[EmailDelivery]:
    """Mark an address confirmed and owe the recommendations already waiting for it."""
    contact = session.get(ContactAddress, address)
    if contact is None:
        contact = ContactAddress(email=address)
        session.add(contact)
    if contact.confirmed_at is None:
        contact.confirmed_at = utcnow()
    session.flush()
    owed = []
    for profile in session.scalars(select(Profile).where(Profile.contact_email == address)):
        run = latest_run(session, profile)
        delivery = owe_recommendations(session, profile, run) if run else None
        if delivery is not None:
            owed.append(delivery)
    return owed
