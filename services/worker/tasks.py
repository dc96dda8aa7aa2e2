"""Celery tasks: thin adapters that load by id, call shared/, and commit.

Tasks receive ids only. Each is idempotent by its id: a replay finds the work done and stops.
Counting attempts, backing off and dead-lettering live in their base, services/worker/base.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from celery import shared_task
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from partnermatch.services.worker.base import EventAttempts, WorkerTask, backoff
from partnermatch.services.worker.metrics import count_email, count_match
from partnermatch.services.worker.runtime import WorkerRuntime
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import utcnow
from partnermatch.shared.db.statuses import DeliveryStatus
from partnermatch.shared.email import AmbiguousEmailError, PermanentEmailError, TransientEmailError
from partnermatch.shared.notifications import delivery as mailing
from partnermatch.shared.notifications import owed as notifications
from partnermatch.shared.operations import purge
from partnermatch.shared.outbox import attempts
from partnermatch.shared.outbox import events as outbox
from partnermatch.shared.outbox.names import TaskName, email_key, match_key
from partnermatch.shared.profiles import retention
from partnermatch.shared.recommendations import consume as matchmaking
from partnermatch.shared.recommendations import emails
from partnermatch.shared.recommendations import refresh as freshness

log = logging.getLogger(__name__)

REFRESH_BUDGET_SHARE = 0.5  # of the soft time limit a refresh pass may spend re-ranking
REFRESH_PASS_LOCK = 0x706D_7265_6672  # the advisory lock one refresh pass holds at a time


@shared_task(base=WorkerTask, bind=True, name=TaskName.MATCH_PROFILE,
             event_attempts=EventAttempts("match", matchmaking.fail_event, count_match))
def match_profile(self: WorkerTask, event_id: str) -> str:
    """Match the profile version named by an outbox event, with the match events waiting beside
    it (up to MATCH_BATCH_SIZE) in one transaction; an event tried before is matched alone.

    If another task's batch holds the event, this one matches a batch of the waiting events
    instead of waiting idle, and then its own event (by then consumed, as a rule).
    """
    rt = self.runtime
    rt.index()  # a first build reads for seconds: before any write transaction, not inside one
    size = _batch_size(rt, getattr(self.request, "attempt", 1))
    own = None
    try:
        if size > 1:
            try:
                matched, own_taken = _match_batch(rt, event_id, size)
            except BatchFailedError as failed:  # each event again alone: its own task, and this
                log.warning("a batch of %d match events failed (%r); matching %s alone",
                            failed.size, failed.__cause__, event_id)
                matched, own_taken = [], False
            for outcome, claimed in matched:
                _send_matched(rt, outcome, claimed)
            own = matched[0][0] if own_taken else None
        if own is None:  # alone, waiting for the event if another transaction holds it
            [(own, claimed)] = _match_alone(rt, event_id)
            _send_matched(rt, own, claimed)
    except IntegrityError:  # a concurrent duplicate committed the same run first
        return count_match("already")
    return own.status


class BatchFailedError(Exception):
    """Matching several events together failed; it is rolled back and none of them consumed."""

    def __init__(self, size: int):
        super().__init__(f"a batch of {size} match events failed")
        self.size = size


def _batch_size(rt: WorkerRuntime, attempt: int) -> int:
    """How many events a match task may take: several only at an event's first attempt (a tried
    one may be the poison: it is matched alone)."""
    if attempt > 1:
        return 1
    return max(1, rt.settings.MATCH_BATCH_SIZE)


def _match_batch(rt: WorkerRuntime, event_id: str, size: int) -> tuple[list[tuple], bool]:
    """Match an event and the waiting ones this transaction locks, with one index catch-up and
    one commit; return each outcome with the email claimed in it, and whether the event itself
    was among them (first) rather than held by another transaction.

    On PostgreSQL the batch locks its events (SKIP LOCKED: concurrent batches take different
    ones) and counts its companions' attempts on the counter connection, committed before any is
    matched. On SQLite a write transaction holds the one write lock from its BEGIN, so no other
    writer runs beside it: a first transaction takes the events (_take_serially) and commits
    their attempts, and the next matches them. Counted, they are no longer waiting, so no other
    batch takes them between the two; their own tasks start at a second attempt and match them
    alone, or find them consumed, whichever commits first.
    """
    events: list = []
    own_taken = False
    serial = rt.engine.dialect.name != "postgresql"
    try:
        taken = _take_serially(rt, event_id, size) if serial else []
        with transaction(rt.sessions) as session:
            if serial:
                events = matchmaking.events_in_order(session, taken)
            else:
                events = matchmaking.lock_batch(session, event_id, size)
            own_taken = bool(events) and events[0].id == event_id
            if not serial:
                companions = events[1:] if own_taken else events
                attempts.bump_attempts(rt.counter_sessions,
                                       [match_key(e.id) for e in companions])
            return _match_locked(rt, session, events), own_taken
    except Exception as error:
        if len(events) > 1 or (events and not own_taken):
            raise BatchFailedError(len(events)) from error
        raise


def _take_serially(rt: WorkerRuntime, event_id: str, size: int) -> list[str]:
    """Take an event and up to `size - 1` waiting ones where one writer runs at a time (SQLite),
    counting the waiting ones' attempts in the same transaction; return their ids, the event's
    first (if it is still there).

    The count commits before any of them is matched, as on PostgreSQL: if matching one kills
    the process, each is matched alone next time, and the poison ends alone in the dead letters.
    """
    with transaction(rt.sessions) as session:  # the write lock from BEGIN: no SKIP LOCKED needed
        ids = [event.id for event in matchmaking.lock_batch(session, event_id, size)]
        attempts.count_starts(session, [match_key(id_) for id_ in ids if id_ != event_id])
        return ids


def _match_alone(rt: WorkerRuntime, event_id: str) -> list[tuple]:
    """Match an event on its own, waiting for its row if another transaction holds it."""
    with transaction(rt.sessions) as session:
        event = session.get(outbox.OutboxEvent, event_id, with_for_update=True)
        if event is None:
            return [(matchmaking.MatchOutcome("gone"), None)]
        return _match_locked(rt, session, [event])


def _match_locked(rt: WorkerRuntime, session, events: list) -> list[tuple]:
    """Match locked events in the caller's transaction, catching the index up once."""
    if not events:
        return []
    index = rt.index()
    if len(events) == 1:
        outcome = matchmaking.match_locked(session, index, events[0])
        return [(outcome, _claim_here(rt, session, outcome))]
    index.refresh(session)
    log.info("matching %d events in one transaction", len(events))
    reads = matchmaking.read_batch(session, events)
    outcomes = [matchmaking.match_locked(session, index, event, catch_up=False, reads=reads)
                for event in events]
    matchmaking.finish_batch(session, reads)  # written; then the emails, from what is held
    return [(outcome, _claim_here(rt, session, outcome)) for outcome in outcomes]


def _send_matched(rt: WorkerRuntime, outcome, claimed: Claimed | None) -> None:
    """Count a committed match and send the email it built, claimed now the match is durable."""
    count_match(outcome.status)
    if claimed is not None:  # sent from here, one broker hop sooner; the claim keeps it once
        claimed = _claim_composed(rt, claimed)
        count_email(_send_claimed(rt, claimed) if claimed else "not pending")


@shared_task(base=WorkerTask, bind=True, name=TaskName.REFRESH_PARTNERS,
             event_attempts=EventAttempts("refresh", outbox.consume))
def refresh_partners(self: WorkerTask, event_id: str) -> str:
    """Re-rank the councils a strong new profile would help; email those whose tops changed.

    On PostgreSQL one pass runs at a time. A pass that finds another running does not wait for
    it (that held a pool process idle for the whole of the other's ranking): it stops ("busy")
    and leaves its event to the running pass, which after letting go of the lock publishes a
    successor for any refresh event still waiting (_successor).
    """
    rt = self.runtime
    budget = rt.settings.TASK_SOFT_TIME_LIMIT * REFRESH_BUDGET_SHARE
    with _one_pass_at_a_time(rt) as held:
        if held is False:  # another pass is running (None: no lock here, SQLite)
            outcome = freshness.RefreshOutcome("busy")
        else:
            outcome = freshness.refresh_partners(rt.sessions, rt.read_sessions, rt.index(),
                                                 event_id, budget)
    if outcome.status == "busy":  # not an attempt that failed: its start is not counted
        with transaction(rt.sessions) as session:
            attempts.reset_attempts(session, match_key(event_id))
        log.info("refresh: another pass is running; it takes this event or leaves it to the "
                 "successor it publishes")
        return outcome.status
    log.info("refresh: %d profiles examined, %d refreshed, %d emails owed (%s)",
             outcome.examined, len(outcome.refreshed), len(outcome.delivery_ids), outcome.status)
    _successor(rt, event_id)
    return outcome.status


def _successor(rt: WorkerRuntime, event_id: str) -> None:
    """Publish a pass for the refresh events still waiting, once this pass has let go of the lock.

    A partial pass carries on with its own event, its attempts afresh (progress was made). After
    a complete pass, events written while it ran are waiting, and their tasks may have been
    turned away ("busy"): each came after its event was committed and found the lock held, so
    the lock was let go after that commit, and this read, made after letting go, sees the event.
    Events may also wait without a task of their own: a transaction publishes one refresh task
    however many it wrote (outbox.one_refresh), and a pass takes at most PASS_BATCH.
    """
    with transaction(rt.sessions) as session:
        event = session.get(outbox.OutboxEvent, event_id)
        if event is not None and event.consumed_at is None:  # partial: carry on with it
            attempts.reset_attempts(session, match_key(event_id))
        else:
            event = freshness.oldest_waiting(session)
        work = [outbox.work_for_event(event)] if event is not None else []
    if work:
        log.info("refresh: publishing a pass for the refresh events still waiting")
        rt.publish(work)


@contextmanager
def _one_pass_at_a_time(rt: WorkerRuntime) -> Iterator[bool | None]:
    """Take the lock that lets one refresh pass run at a time on PostgreSQL, without waiting: an
    advisory lock on a connection held for the pass (a dead process's goes with its connection).
    Yield True if taken, False if another pass holds it, None where there is none (SQLite, whose
    writes are serial anyway: passes run side by side).

    A pass takes every refresh event waiting, so two at once would re-rank the same runs twice.
    """
    if rt.engine.dialect.name != "postgresql":
        yield None
        return
    with rt.engine.connect() as connection:
        held = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                      {"key": REFRESH_PASS_LOCK}))
        try:
            yield held
        finally:
            if held:
                connection.scalar(text("SELECT pg_advisory_unlock(:key)"),
                                  {"key": REFRESH_PASS_LOCK})


@shared_task(base=WorkerTask, bind=True, name=TaskName.SEND_EMAIL)
def send_email(self: WorkerTask, delivery_id: str) -> str:
    """Send one email delivery, effectively once."""
    return _send(self.runtime, delivery_id)


def _send(rt: WorkerRuntime, delivery_id: str) -> str:
    """Claim a delivery, send it, record the outcome and count it."""
    return count_email(_deliver(rt, delivery_id))


@dataclass(frozen=True)
class Claimed:
    """A delivery this process has claimed and built, to send once the claim is committed."""

    delivery_id: str
    message: EmailMessage
    attempt: int
    repeat: bool  # retried, or replayed by ops


def _claim(session, delivery_id: str, mail: mailing.MailSettings) -> Claimed | None:
    """Claim a delivery and build its message, in the caller's transaction."""
    delivery = mailing.claim(session, delivery_id)
    if delivery is None:
        return None
    message = emails.compose(session, delivery, mail)
    return Claimed(delivery_id, message, delivery.attempts,
                   delivery.attempts > 1 or delivery.last_error is not None)


def _claim_here(rt: WorkerRuntime, session, outcome: matchmaking.MatchOutcome) -> Claimed | None:
    """Build an email owed by this very transaction, from the ranking in memory.

    The relay does not publish the delivery: this process claims and sends it after the commit.
    If the email cannot be built, the match still commits and the delivery is published as usual,
    for the send_email task to try (and retry, or dead-letter).
    """
    delivery_id, delivery = outcome.delivery_id, outcome.delivery
    if delivery_id is None:
        return None
    try:  # what it reads is committed already: the delivery is inserted at the commit, whole
        with session.no_autoflush:
            message = emails.compose(session, delivery, rt.mail, outcome.needs)
    except Exception:  # noqa: BLE001 - the send_email task meets it again, and records it
        log.exception("building email %s in the match failed; publishing it", delivery_id)
        return None
    outbox.send_here(session, delivery_id)
    return Claimed(delivery_id, message, attempt=1, repeat=False)


def _claim_composed(rt: WorkerRuntime, composed: Claimed) -> Claimed | None:
    """Claim, once the match has committed, the delivery whose email it built.

    Not in the match transaction: a commit whose answer is lost would leave the email claimed
    and unsent, where a pending delivery is published again by the relay.
    """
    with transaction(rt.statement_sessions) as session:  # one statement
        delivery = mailing.claim(session, composed.delivery_id)
        if delivery is None:
            return None
        return Claimed(composed.delivery_id, composed.message, delivery.attempts,
                       delivery.attempts > 1 or delivery.last_error is not None)


def _deliver(rt: WorkerRuntime, delivery_id: str) -> str:
    """Claim a delivery, send it and record the outcome."""
    with transaction(rt.sessions) as session:
        claimed = _claim(session, delivery_id, rt.mail)
    if claimed is None:
        return "not pending"
    return _send_claimed(rt, claimed)


def _send_claimed(rt: WorkerRuntime, claimed: Claimed) -> str:
    """Send a delivery whose claim is committed, and record the outcome."""
    try:
        rt.sender.send(claimed.message, repeat=claimed.repeat)
    except TransientEmailError as error:
        return _retry_email(rt, claimed.delivery_id, str(error))
    except PermanentEmailError as error:
        return _fail_email(rt, claimed.delivery_id, DeliveryStatus.FAILED, str(error),
                           claimed.attempt)
    except AmbiguousEmailError as error:
        return _fail_email(rt, claimed.delivery_id, DeliveryStatus.AMBIGUOUS, str(error),
                           claimed.attempt)
    with transaction(rt.statement_sessions) as session:  # one statement
        mailing.record_sent(session, claimed.delivery_id)
    return DeliveryStatus.SENT


def _retry_email(rt: WorkerRuntime, delivery_id: str, error: str) -> str:
    with transaction(rt.sessions) as session:
        delivery = session.get(mailing.EmailDelivery, delivery_id)
        if mailing.record_retry(session, delivery, error, rt.mail):
            return "retry scheduled"
        attempts.dead_letter(session, TaskName.SEND_EMAIL, email_key(delivery_id), [delivery_id],
                             error, delivery.attempts)
    return DeliveryStatus.FAILED


def _fail_email(rt: WorkerRuntime, delivery_id: str, status: DeliveryStatus, error: str,
                attempt: int) -> str:
    with transaction(rt.sessions) as session:
        mailing.record_outcome(session, delivery_id, status, error)
        attempts.dead_letter(session, TaskName.SEND_EMAIL, email_key(delivery_id), [delivery_id],
                             f"{status}: {error}", attempt)
    return status


@shared_task(base=WorkerTask, bind=True, name=TaskName.SEND_PROFILE_LINKS)
def send_profile_links(self: WorkerTask, request_id: str) -> str:
    """Answer "get a link to your profile": look the address up, owe its email and send it."""
    rt = self.runtime
    try:
        with transaction(rt.sessions) as session:
            delivery = notifications.answer_link_request(session, request_id, rt.confirmation)
            delivery_id = delivery.id if delivery else None
            if delivery_id:
                outbox.send_here(session, delivery_id)
    except OperationalError as error:
        raise self.retry(countdown=backoff(self.request.retries), exc=error) from error
    if delivery_id is None:
        return "nothing owed"
    return _send(rt, delivery_id)


@shared_task(base=WorkerTask, bind=True, name=TaskName.PURGE_EXPIRED)
def purge_expired(self: WorkerTask) -> dict[str, int]:
    """Delete records that have outlived their purpose (shared/operations/purge.py)."""
    rt = self.runtime
    with transaction(rt.sessions) as session:
        purged = purge.purge_expired(session, utcnow())
    log.info("purged %s", purged)
    return purged


@shared_task(base=WorkerTask, bind=True, name=TaskName.HANDLE_EVENT)
def handle_event(self: WorkerTask, event_id: str) -> str:
    """Consume an event that needs no matching (a deletion): indexes catch up by themselves."""
    with transaction(self.runtime.sessions) as session:
        outbox.consume(session, event_id)
    return "consumed"


@shared_task(base=WorkerTask, bind=True, name=TaskName.RELAY_OUTBOX)
def relay_outbox(self: WorkerTask) -> dict[str, int]:
    """Re-publish events and deliveries not finished within the grace period."""
    rt = self.runtime
    now = utcnow()
    grace = timedelta(seconds=rt.settings.RELAY_GRACE_SECONDS)
    with transaction(rt.sessions) as session:
        events = outbox.due_events(session, now, grace,
                                   timedelta(seconds=rt.settings.TASK_TIME_LIMIT))
        deliveries = outbox.due_deliveries(session, now, grace)
        link_requests = outbox.due_link_requests(session, now, grace)
        _mark_orphans_ambiguous(rt, session)
        work = outbox.one_refresh([outbox.work_for_event(e) for e in events])  # oldest first
        work += [outbox.work_for_delivery(d) for d in deliveries]
        work += [outbox.work_for_link_request(r) for r in link_requests]
        outbox.mark_published(session, [e.id for e in events], [d.id for d in deliveries], now)
    rt.publish(work)
    return {"events": len(events), "deliveries": len(deliveries)}


def _mark_orphans_ambiguous(rt: WorkerRuntime, session) -> None:
    older_than = timedelta(seconds=rt.settings.BROKER_VISIBILITY_TIMEOUT)
    for delivery in mailing.orphaned_sends(session, older_than):
        mailing.record_outcome(session, delivery.id, DeliveryStatus.AMBIGUOUS,
                               "the sending process died before recording the outcome")
        attempts.dead_letter(session, TaskName.SEND_EMAIL, email_key(delivery.id),
                             [delivery.id], "ambiguous: sender died mid-send", delivery.attempts)


@shared_task(base=WorkerTask, name=TaskName.NOOP, ignore_result=False)
def noop() -> None:
    """Do nothing: the ceiling for benchmarks of the queue itself."""


@shared_task(base=WorkerTask, bind=True, name=TaskName.ERASE_EXPIRED_PROFILES)
def erase_expired_profiles(self: WorkerTask) -> int:
    """Erase profiles not updated for RETENTION_DAYS, one batch per transaction."""
    rt = self.runtime
    if rt.settings.RETENTION_DAYS <= 0:
        log.warning("retention is off (RETENTION_DAYS=%d)", rt.settings.RETENTION_DAYS)
        return 0
    erased, batch = 0, retention.BATCH
    while batch == retention.BATCH:
        with transaction(rt.sessions) as session:
            batch = retention.erase_expired(session, utcnow(), rt.settings.RETENTION_DAYS)
        erased += batch
    log.info("retention: erased %d profiles", erased)
    return erased
