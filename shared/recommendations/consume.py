"""Consuming a profile event: match the profile's version, store the run, owe the email.

Everything happens in the caller's transaction, and the event is marked consumed in it, so the
result and the consumption commit together: a replayed event finds the work done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, insert, literal, or_, select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import (
    ContactAddress,
    EmailDelivery,
    MatchRun,
    NeedRecommendations,
    OutboxEvent,
    Profile,
    TaskAttempt,
    new_id,
    utcnow,
)
from partnermatch.shared.db.statuses import RunStatus
from partnermatch.shared.matching.index import MODEL_VERSION
from partnermatch.shared.notifications.owed import lock_contacts, owe_recommendations
from partnermatch.shared.outbox.events import MATCH_TOPICS
from partnermatch.shared.outbox.names import MATCH_KEY_PREFIX
from partnermatch.shared.recommendations.live_index import CandidateIndex, request_from
from partnermatch.shared.recommendations.refresh import (
    PARTNERS_KEPT_PER_NEED,
    owe_refresh,
    refreshes_owed,
)
from partnermatch.shared.recommendations.runs import need_rows
from partnermatch.shared.reference.records import NeedMatches


@dataclass(frozen=True)
class MatchOutcome:
    """What consuming an event did."""

    status: str  # matched | already | stale | gone
    match_run_id: str | None = None
    partner_ids: tuple[str, ...] = ()
    delivery_id: str | None = None  # the recommendation email this transaction owed
    needs: tuple[NeedMatches, ...] | None = None  # the ranking stored, when this run is new
    # The profile, run and delivery as loaded: the session holds its rows only weakly, so an
    # email composed in the same transaction would otherwise read them from the database again.
    loaded: tuple[object, ...] = field(default=(), compare=False, repr=False)

    @property
    def delivery(self) -> EmailDelivery | None:
        """The recommendation email this transaction owed, as added to the session."""
        return self.loaded[2] if self.loaded else None


def match_event(session: Session, index: CandidateIndex, event_id: str) -> MatchOutcome:
    """Match the profile version an event names, unless that was already done.

    The event's row is locked first: a batch holding it commits (or fails) before this reads it.
    """
    event = session.get(OutboxEvent, event_id, with_for_update=True)
    if event is None:
        return MatchOutcome("gone")
    return match_locked(session, index, event)


def lock_waiting_events(session: Session, event_id: str, limit: int) -> list[OutboxEvent]:
    """Lock up to `limit` other match events waiting to be consumed and never tried, oldest first.

    Rows another transaction holds are skipped (SKIP LOCKED), so concurrent batches take
    different events; an event with an attempt counted has been tried and is matched alone.
    """
    return list(session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.id != event_id, _waiting())
        .order_by(OutboxEvent.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxEvent)
    ))


def lock_batch(session: Session, event_id: str, size: int) -> list[OutboxEvent]:
    """Lock an event and up to `size - 1` waiting ones (as lock_waiting_events), in one statement.

    The event comes first; if another transaction holds it (a batch that took it in), it is
    skipped like the others, and the batch is the waiting events alone. SQLite has no row locks
    (the statement is rendered without FOR UPDATE): there the write transaction running it holds
    the one write lock from its BEGIN, and no other can take the same events meanwhile.
    """
    return list(session.scalars(
        select(OutboxEvent)
        .where(or_(OutboxEvent.id == event_id, _waiting()))
        .order_by((OutboxEvent.id == event_id).desc(), OutboxEvent.created_at)
        .limit(size)
        .with_for_update(skip_locked=True, of=OutboxEvent)
    ))


def events_in_order(session: Session, ids: list[str]) -> list[OutboxEvent]:
    """Load events by id in the order given, leaving out any gone since."""
    if not ids:
        return []
    found = {e.id: e for e in session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids)))}
    return [found[id_] for id_ in ids if id_ in found]


def _waiting():
    tried = exists().where(TaskAttempt.task_key == literal(MATCH_KEY_PREFIX) + OutboxEvent.id)
    return and_(OutboxEvent.topic.in_(MATCH_TOPICS), OutboxEvent.consumed_at.is_(None), ~tried)


@dataclass
class BatchReads:
    """What a batch of matches reads in a few statements rather than a few per event, and the
    recommendation rows it inserts in one at the end (finish_batch)."""

    profiles: dict[str, Profile]  # held here: the session keeps rows only weakly
    runs: dict[tuple[str, int], MatchRun]  # by profile and version
    contacts: dict[str, ContactAddress]  # locked, as owe_recommendations locks one
    refreshes: set[tuple[str, int]]  # profile versions with a refresh event
    rows: list[dict] = field(default_factory=list)


def read_batch(session: Session, events: list[OutboxEvent]) -> BatchReads:
    """Read the profiles, runs, addresses and refresh events a batch of locked events needs."""
    ids = sorted({event.profile_id for event in events if event.profile_id})
    profiles = {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(ids)))}
    runs = {(run.profile_id, run.profile_version): run
            for run in session.scalars(select(MatchRun).where(MatchRun.profile_id.in_(ids)))}
    contacts = lock_contacts(session, {p.contact_email for p in profiles.values()})
    return BatchReads(profiles, runs, contacts, refreshes_owed(session, ids))


def finish_batch(session: Session, reads: BatchReads) -> None:
    """Write what a batch's matches added: one flush for the events, runs and emails owed, one
    statement for the recommendation rows."""
    session.flush()
    if reads.rows:
        session.execute(insert(NeedRecommendations.__table__), reads.rows)
        reads.rows.clear()


def match_locked(session: Session, index: CandidateIndex, event: OutboxEvent,
                 catch_up: bool = True, reads: BatchReads | None = None) -> MatchOutcome:
    """Match the profile version of an event this transaction holds; `catch_up=False` when the
    caller has brought the index up to date in this transaction already (a batch does it once,
    and reads what its events need at once: `reads`, finished by finish_batch)."""
    if event.consumed_at is not None:
        return MatchOutcome("already")
    event.consumed_at = utcnow()
    if reads is not None:
        profile = reads.profiles.get(event.profile_id)
    else:
        profile = session.get(Profile, event.profile_id) if event.profile_id else None
    if profile is None or profile.version != event.profile_version:
        return MatchOutcome("stale")
    key = (profile.id, profile.version)
    run = reads.runs.get(key) if reads is not None else _existing_run(session, profile)
    status, partner_ids, needs = "already", (), None
    if run is None:
        if catch_up:
            index.refresh(session)
        needs = index.index.match(request_from(profile), limit=PARTNERS_KEPT_PER_NEED)
        run = store_run(session, profile, needs, event.id,
                        reads.rows if reads is not None else None, index.synced_at)
        status, partner_ids = "matched", _top_partner_ids(needs)
        # it may be the strong partner others were waiting for
        owe_refresh(session, profile, reads.refreshes if reads is not None else None)
        if reads is not None:
            reads.runs[key] = run
    delivery = owe_recommendations(session, profile, run, new_run=status == "matched",
                                   locked=reads.contacts if reads is not None else None)
    return MatchOutcome(status, run.id, partner_ids, delivery.id if delivery else None,
                        tuple(needs) if needs is not None else None, (profile, run, delivery))


def _existing_run(session: Session, profile: Profile) -> MatchRun | None:
    return session.scalar(
        select(MatchRun).where(
            MatchRun.profile_id == profile.id, MatchRun.profile_version == profile.version
        )
    )


def store_run(session: Session, profile: Profile, needs: list[NeedMatches],
              event_id: str | None, later: list[dict] | None = None,
              indexed_at: datetime | None = None) -> MatchRun:
    """Store a match run and its ranking, a row per need; given `later`, the run is only added to
    the session and its rows to `later`, for the caller to insert (a batch does all at once).
    `indexed_at`: when the index that ranked it had last caught up (refresh.py reads it)."""
    run = MatchRun(id=new_id(), profile_id=profile.id, profile_version=profile.version,
                   status=RunStatus.READY, model_version=MODEL_VERSION, event_id=event_id,
                   generated_at=utcnow(), indexed_at=indexed_at)
    session.add(run)
    rows = need_rows(run.id, needs)
    if later is not None:  # the run is inserted with the batch's others, at its flush
        later.extend(rows)
        return run
    session.flush()
    if rows:  # one executemany through Core: the ORM would only add bookkeeping
        session.execute(insert(NeedRecommendations.__table__), rows)
    return run


def _top_partner_ids(needs: list[NeedMatches], top: int = 5) -> tuple[str, ...]:
    return tuple(p.profile_id for need in needs for p in need.partners[:top])


def fail_event(session: Session, event_id: str) -> None:
    """Give up on an event: record a failed run so the API says so, and mark it consumed."""
    event = session.get(OutboxEvent, event_id)
    if event is None or event.consumed_at is not None:
        return
    event.consumed_at = utcnow()
    profile = session.get(Profile, event.profile_id) if event.profile_id else None
    current = profile is not None and profile.version == event.profile_version
    if current and _existing_run(session, profile) is None:
        session.add(MatchRun(profile_id=profile.id, profile_version=profile.version,
                             status=RunStatus.FAILED, model_version=MODEL_VERSION,
                             event_id=event.id))
