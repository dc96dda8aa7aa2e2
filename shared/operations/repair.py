"""Repairing stuck work: replay or discard a dead letter, approve a supplier, verify or reject a
council address. Each is audited."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import (
    AuditEntry,
    DeadLetter,
    EmailDelivery,
    MatchRun,
    OutboxEvent,
    Profile,
    utcnow,
)
from partnermatch.shared.db.statuses import DeliveryStatus, RunStatus
from partnermatch.shared.outbox.attempts import reset_attempts
from partnermatch.shared.outbox.names import TaskName
from partnermatch.shared.recommendations.refresh import owe_refresh
from partnermatch.shared.reference.addresses import REJECTED, UNVERIFIED, VERIFIED


def audit(session: Session, actor: str, action: str, target: str | None,
          detail: str | None = None) -> None:
    """Record what an operator did."""
    session.add(AuditEntry(actor=actor, action=action, target=target, detail=detail))


def replay_dead_letter(session: Session, letter: DeadLetter, actor: str) -> None:
    """Put a dead letter's work back in the queue: the relay publishes it on its next pass."""
    if letter.task_name == TaskName.SEND_EMAIL:
        _replay_email(session, letter.task_args[0])
    elif letter.task_name in (TaskName.MATCH_PROFILE, TaskName.REFRESH_PARTNERS):
        _replay_match(session, letter.task_args[0])
    reset_attempts(session, letter.task_key)
    _resolve(session, letter, "retried", actor)


def _replay_email(session: Session, delivery_id: str) -> None:
    delivery = session.get(EmailDelivery, delivery_id)
    replayable = (DeliveryStatus.FAILED, DeliveryStatus.AMBIGUOUS)
    if delivery is not None and delivery.status in replayable:
        delivery.status, delivery.attempts = DeliveryStatus.PENDING, 0
        delivery.next_attempt_at, delivery.published_at = utcnow(), None


def _replay_match(session: Session, event_id: str) -> None:
    event = session.get(OutboxEvent, event_id)
    if event is None:
        return
    session.execute(delete(MatchRun).where(MatchRun.event_id == event_id,
                                           MatchRun.status == RunStatus.FAILED))
    event.consumed_at, event.published_at = None, None


def discard_dead_letter(session: Session, letter: DeadLetter, actor: str) -> None:
    """Accept that a dead letter's work will not be done."""
    _resolve(session, letter, "discarded", actor)


def _resolve(session: Session, letter: DeadLetter, resolution: str, actor: str) -> None:
    letter.resolved_at, letter.resolution = utcnow(), resolution
    audit(session, actor, f"dead_letter.{resolution}", letter.id, letter.task_name)


def approve_supplier(session: Session, supplier: Profile, actor: str) -> None:
    """Make a supplier eligible for recommendations (worker indexes pick it up by updated_at)."""
    supplier.approved = True
    supplier.updated_at = utcnow()
    audit(session, actor, "supplier.approved", supplier.id)
    session.flush()
    owe_refresh(session, supplier)  # councils waiting for a supplier like it hear about it


def review_address(session: Session, profile: Profile, verified: bool, actor: str) -> bool:
    """Record a person's decision on an unverified council address; False if none was waiting.

    Verified, its contact may be shared and the label goes; rejected, it is recommended to nobody
    (and shown nowhere it was recommended). The audit entry names the address's domain only.
    """
    if profile.address_status != UNVERIFIED:
        return False
    profile.address_status = VERIFIED if verified else REJECTED
    profile.updated_at = utcnow()  # worker indexes pick the change up by updated_at
    domain = profile.contact_email.rsplit("@", 1)[-1]
    audit(session, actor, f"address.{profile.address_status}", profile.id,
          f"{profile.gss_code} {domain}")
    return True
