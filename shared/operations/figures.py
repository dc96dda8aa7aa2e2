"""Figures for operations staff, read from the system of record so they survive any restart."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import (
    ContactAddress,
    DeadLetter,
    EmailDelivery,
    Feedback,
    MatchRun,
    OutboxEvent,
    Profile,
    TaskAttempt,
    utcnow,
)
from partnermatch.shared.db.statuses import DeliveryStatus

DELIVERY_STATES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT,
                   DeliveryStatus.FAILED, DeliveryStatus.AMBIGUOUS)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Figures:
    """What /ops shows and /metrics exports, computed at one moment."""

    at: datetime
    outbox_lag_seconds: float
    outbox_unconsumed: int
    dead_letters: int
    deliveries: dict[str, int]
    feedback: dict[str, int]
    suppliers_awaiting_approval: int
    matches_last_hour: int
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None
    per_minute: dict[str, list[int]] = field(default_factory=dict)


def figures(session: Session, now: datetime | None = None) -> Figures:
    """Compute every ops figure from the database."""
    now = now or utcnow()
    oldest = session.scalar(
        select(func.min(OutboxEvent.created_at)).where(OutboxEvent.consumed_at.is_(None)))
    latencies = submit_to_email_seconds(session, now - HOUR)
    return Figures(
        at=now,
        outbox_lag_seconds=(now - oldest).total_seconds() if oldest else 0.0,
        outbox_unconsumed=_count(session, OutboxEvent, OutboxEvent.consumed_at.is_(None)),
        dead_letters=_count(session, DeadLetter, DeadLetter.resolved_at.is_(None)),
        deliveries=_deliveries(session),
        feedback=_feedback(session),
        suppliers_awaiting_approval=_count(
            session, Profile, Profile.kind == "supplier", Profile.approved.is_(False)),
        matches_last_hour=_count(session, MatchRun, MatchRun.generated_at >= now - HOUR),
        latency_p50_seconds=statistics.median(latencies) if latencies else None,
        latency_p95_seconds=_p95(latencies),
        per_minute=per_minute(session, now),
    )


def _count(session: Session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def _deliveries(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(EmailDelivery.status, func.count()).group_by(EmailDelivery.status)).all()
    counts = dict.fromkeys(DELIVERY_STATES, 0)
    counts.update({status: n for status, n in rows})
    return counts


def _feedback(session: Session) -> dict[str, int]:
    rows = session.execute(select(Feedback.useful, func.count()).group_by(Feedback.useful)).all()
    counts = {"useful": 0, "not_useful": 0}
    for useful, n in rows:
        counts["useful" if useful else "not_useful"] += n
    return counts


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def submit_to_email_seconds(session: Session, since: datetime) -> list[float]:
    """Seconds from a submission (or its address's confirmation, if later) to its email."""
    rows = session.execute(
        select(EmailDelivery.sent_at, OutboxEvent.created_at, ContactAddress.confirmed_at)
        .join(MatchRun, MatchRun.id == EmailDelivery.match_run_id)
        .join(OutboxEvent, OutboxEvent.id == MatchRun.event_id)
        .outerjoin(ContactAddress, ContactAddress.email == EmailDelivery.to_address)
        .where(EmailDelivery.purpose == "recommendations",
               EmailDelivery.status == DeliveryStatus.SENT, EmailDelivery.sent_at >= since)
    ).all()
    return [(sent - max(submitted, confirmed or submitted)).total_seconds()
            for sent, submitted, confirmed in rows]


def per_minute(session: Session, now: datetime) -> dict[str, list[int]]:
    """Counts per minute over the last hour, oldest first: matches, emails, failures, retries."""
    since = now - HOUR
    series = {
        "matches": [t for (t,) in session.execute(
            select(MatchRun.generated_at).where(MatchRun.generated_at >= since))],
        "emails_sent": [t for (t,) in session.execute(
            select(EmailDelivery.sent_at).where(EmailDelivery.sent_at >= since))],
        "emails_failed": [t for (t,) in session.execute(
            select(EmailDelivery.claimed_at).where(
                EmailDelivery.claimed_at >= since,
                EmailDelivery.status.in_((DeliveryStatus.FAILED, DeliveryStatus.AMBIGUOUS))))],
        # A task started again (after a crash, a time limit or an error) bumps its attempt row.
        "retries": [t for (t,) in session.execute(
            select(TaskAttempt.updated_at).where(
                TaskAttempt.updated_at >= since, TaskAttempt.attempts > 1))],
    }
    return {name: _bucket(times, since) for name, times in series.items()}


def _bucket(times: list[datetime], since: datetime) -> list[int]:
    buckets = [0] * 60
    for moment in times:
        index = int((moment - since).total_seconds() // 60)
        if index >= 0:
            buckets[min(index, 59)] += 1  # this very moment belongs to the current minute
    return buckets


@dataclass(frozen=True)
class Alert:
    """A threshold passed."""

    name: str
    message: str


def alerts(current: Figures, lag_threshold: float, dead_letter_threshold: int) -> list[Alert]:
    """Return the alerts the figures raise."""
    raised = []
    if current.outbox_lag_seconds > lag_threshold:
        raised.append(Alert("outbox_lag", f"The oldest unprocessed submission is "
                            f"{current.outbox_lag_seconds:.0f} s old (threshold {lag_threshold} s)."
                            " Check that workers and beat are running."))
    if current.dead_letters >= dead_letter_threshold:
        raised.append(Alert("dead_letters", f"{current.dead_letters} dead letter(s) need a "
                            "decision: retry or discard."))
    return raised
