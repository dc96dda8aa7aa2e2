"""Which emails are owed: confirmation first, recommendations only to confirmed addresses.

Each email is an EmailDelivery row with a unique dedupe key, created in the same transaction as its
cause, so a retry or a replayed event can never owe the same email twice.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.models import ContactAddress, EmailDelivery, Introduction, MatchRun, Profile, utcnow
from shared.results import latest_run


def is_example_address(address: str) -> bool:
    """Say whether an address is one we never write to (demo and documentation domains)."""
    domain = address.rsplit("@", 1)[-1].lower()
    return domain.endswith((".invalid", ".example", ".test")) or domain in (
        "example.com", "example.org", "example.net", "invalid", "example")


def _owe(session: Session, dedupe_key: str, purpose: str, profile: Profile,
         match_run_id: str | None = None, introduction_id: str | None = None,
         key_is_new: bool = False) -> EmailDelivery | None:
    if is_example_address(profile.contact_email) or profile.demo:
        return None
    if not key_is_new and session.scalar(
            select(EmailDelivery.id).where(EmailDelivery.dedupe_key == dedupe_key)):
        return None
    delivery = EmailDelivery(
        dedupe_key=dedupe_key, purpose=purpose, profile_id=profile.id,
        match_run_id=match_run_id, introduction_id=introduction_id,
        to_address=profile.contact_email, message_id="",
    )
    delivery.message_id = f"<{delivery.id}@partnermatch>"
    if key_is_new:  # named after something this transaction created: nobody can hold it yet
        session.add(delivery)
        return delivery
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:  # a concurrent worker owed it first
        return None
    return delivery


def owe_confirmation(session: Session, profile: Profile, required: bool,
                     new_profile: bool = False) -> EmailDelivery | None:
    """Owe a confirmation email when the profile's address has not been confirmed yet.

    `new_profile` says the profile was created in this transaction, so nothing is owed for it yet.
    """
    contact = session.get(ContactAddress, profile.contact_email)
    if contact is None:
        contact = ContactAddress(email=profile.contact_email)
        session.add(contact)
        if not required:
            contact.confirmed_at = utcnow()
    if contact.confirmed_at is not None:
        return None
    return _owe(session, f"confirm:{profile.id}:{profile.contact_email}", "confirmation", profile,
                key_is_new=new_profile)


def owe_recommendations(session: Session, profile: Profile, run: MatchRun,
                        new_run: bool = False) -> EmailDelivery | None:
    """Owe the recommendation email for a match run, if the address is confirmed and opted in.

    `new_run` says the run was created in this transaction, so no email can be owed for it yet.
    """
    contact = session.get(ContactAddress, profile.contact_email)
    if contact is None or contact.confirmed_at is None or contact.unsubscribed_at is not None:
        return None
    if run.status != "ready" or run.profile_version != profile.version:
        return None
    return _owe(session, f"recommendations:{run.id}", "recommendations", profile, run.id,
                key_is_new=new_run)


def owe_new_partner(session: Session, profile: Profile, run: MatchRun) -> EmailDelivery | None:
    """Owe the email saying a strong new partner entered a profile's recommendations.

    At most one a day for each council (or supplier profile), whichever partner arrives: the
    dedupe key names the council and the day, so later arrivals that day refresh the stored
    recommendations without another email. Only to confirmed addresses that did not unsubscribe.
    """
    if not is_reachable(session, profile) or run.profile_version != profile.version:
        return None
    day = utcnow().strftime("%Y%m%d")
    return _owe(session, f"new-partner:{profile.gss_code or profile.id}:{day}", "new_partner",
                profile, run.id)


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


def is_reachable(session: Session, profile: Profile) -> bool:
    """Say whether we may email a profile's contact about something it did not ask for."""
    if profile.demo or is_example_address(profile.contact_email):
        return False
    contact = session.get(ContactAddress, profile.contact_email)
    return bool(contact and contact.confirmed_at and contact.unsubscribed_at is None)


def owe_profile_links(session: Session, address: str) -> EmailDelivery | None:
    """Owe an email with a link to each profile of an address: at most one an hour.

    An unconfirmed address gets its confirmation again instead, since nothing else may be sent to
    it; an unknown address gets nothing, and the caller says the same thing either way.
    """
    profile = session.scalar(select(Profile)
                             .where(func.lower(Profile.contact_email) == address.lower())
                             .order_by(Profile.updated_at.desc()).limit(1))
    if profile is None:
        return None
    address = profile.contact_email
    hour = utcnow().strftime("%Y%m%d%H")
    key = hashlib.sha256(address.encode()).hexdigest()[:32]
    contact = session.get(ContactAddress, address)
    if contact is None or contact.confirmed_at is None:
        return _owe(session, f"confirm-again:{key}:{hour}", "confirmation", profile)
    return _owe(session, f"link:{key}:{hour}", "link", profile)


def owe_introduction(session: Session, introduction: Introduction,
                     partner: Profile) -> EmailDelivery | None:
    """Owe the email asking a partner to accept or decline an introduction."""
    return _owe(session, f"introduction:{introduction.id}", "introduction", partner,
                introduction_id=introduction.id)


def owe_introduction_accepted(session: Session, introduction: Introduction,
                              requester: Profile) -> EmailDelivery | None:
    """Owe the email giving the requester the contact details of a partner that accepted."""
    return _owe(session, f"introduction-accepted:{introduction.id}", "introduction_accepted",
                requester, introduction_id=introduction.id)


def unsubscribe(session: Session, address: str) -> None:
    """Stop recommendation emails to an address, including any not yet sent."""
    contact = session.get(ContactAddress, address)
    if contact is None:
        return
    if contact.unsubscribed_at is None:
        contact.unsubscribed_at = utcnow()
    session.execute(
        update(EmailDelivery)
        .where(EmailDelivery.to_address == address, EmailDelivery.status == "pending",
               EmailDelivery.purpose.in_(("recommendations", "new_partner", "introduction")))
        .values(status="cancelled")
    )
