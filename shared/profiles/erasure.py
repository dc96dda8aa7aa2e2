"""Erasing a profile beyond its own rows: its emails, and its place as someone's partner.

A profile's own rows (versions, match runs and their recommendations, introductions) go with it
through foreign keys. What only names it is handled here: unsent emails are deleted, sent ones
keep only their id and status (so delivery figures stay true), dead letters about its emails are
deleted, other councils' recommendations of it are withdrawn (with the note that it refreshed
them), its own outbox events are deleted (the "profile.deleted" event written afterwards is the
only one left), a stored Idempotency-Key replay of its creation is deleted, and feedback and the
audit log lose its id.
"""

from __future__ import annotations

from sqlalchemy import Text, cast, delete, select, update
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import (
    AuditEntry,
    DeadLetter,
    EmailDelivery,
    Feedback,
    IdempotencyKey,
    MatchRun,
    NeedRecommendations,
    OutboxEvent,
)
from partnermatch.shared.db.statuses import DeliveryStatus
from partnermatch.shared.outbox.names import email_key

ERASED = "erased"


def forget_emails(session: Session, profile_id: str) -> None:
    """Delete the profile's unsent emails and their dead letters; strip its sent ones."""
    ids = list(session.scalars(select(EmailDelivery.id)
                               .where(EmailDelivery.profile_id == profile_id)))
    if not ids:
        return
    session.execute(delete(DeadLetter).where(DeadLetter.task_key.in_([email_key(i) for i in ids])))
    session.execute(delete(EmailDelivery).where(EmailDelivery.id.in_(ids),
                                                EmailDelivery.status != DeliveryStatus.SENT))
    session.execute(update(EmailDelivery).where(EmailDelivery.id.in_(ids)).values(
        profile_id=None, to_address=None, last_error=None,
        dedupe_key=ERASED + ":" + EmailDelivery.id))


def forget_as_partner(session: Session, profile_id: str) -> None:
    """Withdraw the profile from others' recommendations; drop its id from feedback and audit."""
    _withdraw_partner(session, profile_id)
    session.execute(update(MatchRun).where(MatchRun.refreshed_by == profile_id)
                    .values(refreshed_by=None))
    session.execute(update(Feedback).where(Feedback.partner_profile_id == profile_id)
                    .values(partner_profile_id=None))
    session.execute(update(AuditEntry).where(AuditEntry.target == profile_id)
                    .values(target=ERASED))


def forget_events_and_replays(session: Session, profile_id: str) -> None:
    """Delete the profile's outbox events (submitted, updated, refresh) and stored replays.

    A match task still queued for one of its events finds the event gone and stops.
    """
    session.execute(delete(OutboxEvent).where(OutboxEvent.profile_id == profile_id))
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.profile_id == profile_id))


def _withdraw_partner(session: Session, profile_id: str) -> None:
    """Take the profile out of every need it is recommended for; a need left with none goes.

    A need's partners are one JSON document, so the rows naming the profile are found by their
    text, which reads every row: erasure is rare, and a row per partner (found by an index) is
    what every match no longer has to write.
    """
    mentioning = session.scalars(select(NeedRecommendations).where(
        cast(NeedRecommendations.partners, Text).contains(profile_id, autoescape=True))).all()
    for need in mentioning:
        partners = [p for p in need.partners if p["profile_id"] != profile_id]
        if not partners:
            session.delete(need)
            continue
        need.top_partner_ids = [p["profile_id"] for p in partners[:len(need.top_partner_ids)]]
        need.partners = partners
