"""The outbox: work recorded in the database, published after commit, re-published until done.

Three tables carry durable work: outbox events (matched by `match_profile`), email deliveries
(sent by `send_email`) and link requests (looked up by `send_profile_links`). Whatever a
transaction adds to them is handed to a publisher after the commit; the relay re-publishes anything
not finished within a grace period, so a lost Redis message delays work but never loses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, func, literal, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from partnermatch.shared.db.models import (
    EmailDelivery,
    LinkRequest,
    OutboxEvent,
    TaskAttempt,
    utcnow,
)
from partnermatch.shared.db.statuses import DeliveryStatus
from partnermatch.shared.outbox.names import MATCH_KEY_PREFIX, TaskName

MATCH_TOPICS = ("profile.submitted", "profile.updated")
REFRESH_TOPIC = "partners.refresh"  # a strong profile arrived: re-rank the councils it would help
RELAY_BATCH = 500
LINK_REQUEST_RELAYED_FOR = timedelta(hours=1)
RELAY_BACKOFF_MAX = 4  # the grace period grows to 16 times itself for an event re-published often


@dataclass(frozen=True)
class Work:
    """A task to publish: its registered name, its id arguments and a stable task id."""

    task: str
    args: tuple[str, ...]
    task_id: str


def match_work(event_id: str) -> Work:
    """Return the task that matches the profile version a "profile.*" event names."""
    return Work(TaskName.MATCH_PROFILE, (event_id,), f"match-{event_id}")


def work_for_event(outbox_event: OutboxEvent) -> Work:
    """Return the task that consumes an outbox event."""
    if outbox_event.topic in MATCH_TOPICS:
        return match_work(outbox_event.id)
    if outbox_event.topic == REFRESH_TOPIC:
        return Work(TaskName.REFRESH_PARTNERS, (outbox_event.id,),
                    f"refresh-{outbox_event.id}")
    return Work(TaskName.HANDLE_EVENT, (outbox_event.id,), f"event-{outbox_event.id}")


def work_for_delivery(delivery: EmailDelivery) -> Work:
    """Return the task that sends an email delivery."""
    return email_work(delivery.id, delivery.attempts)


def email_work(delivery_id: str, attempts: int = 0) -> Work:
    """Return the task that sends a delivery after `attempts` tries."""
    return Work(TaskName.SEND_EMAIL, (delivery_id,), f"email-{delivery_id}-{attempts}")


def work_for_link_request(link_request: LinkRequest) -> Work:
    """Return the task that looks up a link request's address and owes its email."""
    return Work(TaskName.SEND_PROFILE_LINKS, (link_request.id,), f"links-{link_request.id}")


def _work_for(obj: object) -> Work | None:
    """Return the task a newly stored row asks for, if it is durable work."""
    if isinstance(obj, OutboxEvent):
        return work_for_event(obj)
    if isinstance(obj, EmailDelivery) and obj.status == DeliveryStatus.PENDING:
        return work_for_delivery(obj)
    if isinstance(obj, LinkRequest):
        return work_for_link_request(obj)
    return None


def send_here(session: Session, delivery_id: str) -> None:
    """Do not publish a delivery that this process sends itself as soon as the commit is done.

    A published copy would race it for the claim and, after a temporary failure, send again at
    once instead of after the backoff. If the process dies before sending, the relay publishes
    the delivery after the grace period, as it does any work whose message was lost.
    """
    session.info.setdefault("sent_here", set()).add(delivery_id)


def record_work(session: Session, work: list[Work]) -> None:
    """Publish `work` after the commit, with what the flushes added: for rows written with Core
    INSERTs, which the session does not see."""
    session.info.setdefault("new_work", []).extend(work)


def one_refresh(work: list[Work]) -> list[Work]:
    """Keep the first refresh task of `work` only: one refresh pass takes every refresh event
    waiting, so a batch of matches that owes several needs one pass, not one task each (the
    rest would find their events consumed). Events left waiting after a pass (more than it
    takes, or written while it ran) get a successor from it, and the relay is the backstop."""
    refresh = [w for w in work if w.task == TaskName.REFRESH_PARTNERS]
    return [w for w in work if w.task != TaskName.REFRESH_PARTNERS or w is refresh[0]]


def install_collector(
    sessions: sessionmaker[Session], publish: Callable[[list[Work]], None]
) -> None:
    """After each commit, hand the work the transaction created to `publish`."""

    @event.listens_for(sessions, "after_flush")
    def _collect(session: Session, _context) -> None:
        found = session.info.setdefault("new_work", [])
        found.extend(work for work in map(_work_for, session.new) if work is not None)

    @event.listens_for(sessions, "after_commit")
    def _publish(session: Session) -> None:
        if session.in_nested_transaction():  # a savepoint: the work is not committed yet
            return
        here = session.info.pop("sent_here", ())
        work = one_refresh([w for w in session.info.pop("new_work", [])
                            if not (w.task == TaskName.SEND_EMAIL and w.args[0] in here)])
        if work:
            publish(work)

    @event.listens_for(sessions, "after_rollback")
    def _forget(session: Session) -> None:
        if session.in_nested_transaction():  # the rest of the transaction may still commit
            return
        session.info.pop("new_work", None)
        session.info.pop("sent_here", None)


def consume(session: Session, event_id: str) -> None:
    """Mark an event consumed, unless it is gone or already consumed."""
    outbox_event = session.get(OutboxEvent, event_id)
    if outbox_event is not None and outbox_event.consumed_at is None:
        outbox_event.consumed_at = utcnow()


def due_events(session: Session, now: datetime, grace: timedelta,
               running_for: timedelta = timedelta(0)) -> list[OutboxEvent]:
    """Return events not yet consumed whose last publication is older than their grace period.

    The grace doubles with each re-publication (up to RELAY_BACKOFF_MAX times), so a backlog
    that is only waiting in the queue is not re-published on every pass (measured in a burst of
    1,000: 2,396 re-publications before). An event whose match started less than `running_for`
    ago (the task time limit) is left alone: a worker is on it, and a second copy would only run
    beside it and spend an attempt.
    """
    last = func.coalesce(OutboxEvent.published_at, OutboxEvent.created_at)
    started = (
        select(TaskAttempt.task_key)
        .where(TaskAttempt.task_key == literal(MATCH_KEY_PREFIX) + OutboxEvent.id,
               TaskAttempt.updated_at >= now - running_for)
    )
    waiting = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.consumed_at.is_(None), last < now - grace, ~started.exists())
        .order_by(OutboxEvent.created_at)
        .limit(RELAY_BATCH * 4)
    )
    due = [e for e in waiting
           if (e.published_at or e.created_at) < now - grace * _backoff(e.publish_count)]
    return due[:RELAY_BATCH]


def _backoff(publish_count: int) -> int:
    return 2 ** min(publish_count, RELAY_BACKOFF_MAX)


def due_deliveries(session: Session, now: datetime, grace: timedelta) -> list[EmailDelivery]:
    """Return pending deliveries that are due and not published within the grace period."""
    return list(session.scalars(
        select(EmailDelivery)
        .where(
            EmailDelivery.status == DeliveryStatus.PENDING,
            EmailDelivery.next_attempt_at <= now,
            or_(EmailDelivery.published_at.is_(None),
                EmailDelivery.published_at < now - grace),
            or_(EmailDelivery.attempts > 0, EmailDelivery.created_at < now - grace),
        )
        .order_by(EmailDelivery.next_attempt_at)
        .limit(RELAY_BATCH)
    ))


def due_link_requests(session: Session, now: datetime, grace: timedelta) -> list[LinkRequest]:
    """Return link requests not answered within the grace period since their last publication;
    record that they are published again.

    Only for LINK_REQUEST_RELAYED_FOR: after that the person has asked again or given up, and a
    request that fails every time stops being re-published (the purge deletes it after a day).
    """
    last = func.coalesce(LinkRequest.published_at, LinkRequest.created_at)
    due = list(session.scalars(
        select(LinkRequest)
        .where(last < now - grace, LinkRequest.created_at > now - LINK_REQUEST_RELAYED_FOR)
        .order_by(LinkRequest.created_at).limit(RELAY_BATCH)))
    for link_request in due:
        link_request.published_at = now
    return due


def mark_published(session: Session, event_ids: list[str], delivery_ids: list[str],
                   now: datetime) -> None:
    """Record that the relay published these events and deliveries."""
    if event_ids:
        session.execute(
            update(OutboxEvent).where(OutboxEvent.id.in_(event_ids))
            .values(published_at=now, publish_count=OutboxEvent.publish_count + 1)
        )
    if delivery_ids:
        session.execute(
            update(EmailDelivery).where(EmailDelivery.id.in_(delivery_ids))
            .values(published_at=now)
        )
