"""Keeping recommendations fresh: when a strong partner arrives, re-rank the councils it would help.

A match that finds its profile strong somewhere (and able to help) writes a `partners.refresh`
event in the same transaction, as does an ops approval of a supplier. Consuming the event re-ranks
every matched profile that struggles where the newcomer is strong and seeks its kind (one pass
takes all the refresh events waiting, so a burst of strong profiles costs a few passes). A profile
whose top partners for a need now include the newcomer gets its stored recommendations replaced
(the same run, refreshed in place, so links in earlier emails keep working) and, when it may be
written to, one "new partner" email: at most one per council per day, never to a demo profile, an
unconfirmed address or an address that unsubscribed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    MatchRun,
    NeedRecommendations,
    OutboxEvent,
    Profile,
    utcnow,
)
from partnermatch.shared.db.statuses import RunStatus
from partnermatch.shared.matching.index import CAPACITY_FACTORS, struggling_areas
from partnermatch.shared.notifications.owed import owe_new_partner
from partnermatch.shared.outbox.events import REFRESH_TOPIC
from partnermatch.shared.recommendations.live_index import (
    SYNC_OVERLAP,
    CandidateIndex,
    candidate_from,
    request_from,
)
from partnermatch.shared.recommendations.runs import need_rows
from partnermatch.shared.reference.records import Candidate, MatchRequest, NeedMatches
from partnermatch.shared.reference.taxonomy import STRONG_MIN, delivers

TOP = 3  # a change among the first three partners of a need is worth an email
PASS_BATCH = 500  # refresh events one pass takes at most
PARTNERS_KEPT_PER_NEED = 50  # the most the API will show (limit ≤ 50), in a match or a refresh


@dataclass
class RefreshOutcome:
    """What one refresh pass did."""

    # refreshed | partial (out of time: run another pass) | already | gone | not strong
    # | busy (another pass is running: it, or the successor it publishes, takes the event)
    status: str
    examined: int = 0
    refreshed: list[str] = field(default_factory=list)  # profile ids whose runs changed
    delivery_ids: list[str] = field(default_factory=list)
    partner_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Newcomer:
    profile_id: str
    kind: str
    gss_code: str | None
    areas: frozenset[str]
    since: datetime  # when its refresh event was written: runs checked before it lack it
    # When its profile last changed (updated_at): an index that caught up SYNC_OVERLAP after it
    # holds it as the candidate it is (live_index's catch-up relies on the same overlap)
    changed_at: datetime


@dataclass(frozen=True)
class _Checked:
    run_id: str
    profile_id: str
    profile_version: int
    checked_at: datetime | None  # as read, so a concurrent pass's change is not overwritten
    needs: list[NeedMatches] | None = None  # the new ranking, when a newcomer entered the top
    newcomer_id: str | None = None


def strong_areas(candidate: Candidate) -> frozenset[str]:
    """Return the areas where a profile may be recommended as a partner (as the index decides)."""
    if candidate.capacity_to_support not in CAPACITY_FACTORS:
        return frozenset()
    if not candidate.approved:  # unconfirmed, rejected, or a supplier not yet approved
        return frozenset()
    if candidate.kind == "council" and not candidate.council_type:
        return frozenset()
    return frozenset(
        area for area, rating in candidate.ratings.items()
        if rating >= STRONG_MIN
        and (candidate.kind == "supplier" or delivers(candidate.council_type, area))
    )


def owe_refresh(session: Session, profile: Profile,
                owed: set[tuple[str, int]] | None = None) -> OutboxEvent | None:
    """Record a refresh event for a profile strong somewhere, in the caller's transaction.

    One per profile version: its match and the confirmation of its address (whichever comes
    last makes it a candidate) may both ask. `owed`, for a batch of matches: the (profile,
    version) pairs with a refresh event already (refreshes_owed), to which this one is added.
    """
    if profile.demo or not strong_areas(candidate_from(profile)):
        return None
    key = (profile.id, profile.version)
    if owed is not None:
        if key in owed:
            return None
        owed.add(key)
    elif session.scalar(select(OutboxEvent.id).where(
            OutboxEvent.topic == REFRESH_TOPIC, OutboxEvent.profile_id == profile.id,
            OutboxEvent.profile_version == profile.version).limit(1)) is not None:
        return None
    event = OutboxEvent(topic=REFRESH_TOPIC, profile_id=profile.id,
                        profile_version=profile.version)
    session.add(event)
    return event


def refreshes_owed(session: Session, profile_ids: list[str]) -> set[tuple[str, int]]:
    """Return the (profile, version) pairs of these profiles that have a refresh event."""
    return {(profile_id, version) for profile_id, version in session.execute(
        select(OutboxEvent.profile_id, OutboxEvent.profile_version)
        .where(OutboxEvent.topic == REFRESH_TOPIC, OutboxEvent.profile_id.in_(profile_ids)))}


def refresh_partners(sessions: sessionmaker[Session], read_sessions: sessionmaker[Session],
                     index: CandidateIndex, event_id: str, budget_seconds: float) -> RefreshOutcome:
    """Re-rank the profiles strong newcomers could help; replace and announce changed tops.

    One pass takes every refresh event waiting, not only its own, so a burst of strong profiles
    costs a few passes rather than one each. The ranking is read without holding a write
    transaction (SQLite's lock, PostgreSQL's row locks) and the few changes are written at the end.
    A run is re-ranked only if it was made or last checked before a newcomer arrived and the
    index that ranked it did not already hold the newcomer (MatchRun.indexed_at); each pass
    stamps the runs it checked, so a pass that spends `budget_seconds` stops (status "partial")
    and the next one carries on where it stopped, with its events still unconsumed.
    """
    started = utcnow()
    deadline = time.monotonic() + budget_seconds
    with read_sessions() as session:
        event = session.get(OutboxEvent, event_id)
        if event is None:
            return RefreshOutcome("gone")
        if event.consumed_at is not None:
            return RefreshOutcome("already")
        events = [event, *_waiting(session, event.id)]
        newcomers = _newcomers(session, events)
        checked: list[_Checked] = []
        complete = True
        if newcomers:
            index.refresh(session)
            complete = _recheck(session, index, newcomers, checked, deadline)
    outcome = RefreshOutcome("refreshed" if complete else "partial", examined=len(checked))
    with transaction(sessions) as session:
        if complete:
            _consume(session, [e.id for e in events])
        _apply(session, checked, started, outcome)
    if not newcomers:
        outcome.status = "not strong"
    return outcome


def oldest_waiting(session: Session) -> OutboxEvent | None:
    """Return the oldest refresh event not yet consumed, if any: one for a successor pass."""
    return session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.topic == REFRESH_TOPIC, OutboxEvent.consumed_at.is_(None))
        .order_by(OutboxEvent.created_at)
        .limit(1)
    ).first()


def _newcomers(session: Session, events: list[OutboxEvent]) -> dict[str, _Newcomer]:
    newcomers: dict[str, _Newcomer] = {}
    for event in events:
        profile = session.get(Profile, event.profile_id) if event.profile_id else None
        if profile is None or profile.version != event.profile_version:
            continue  # deleted or changed since: its own match owes a new event if still strong
        areas = strong_areas(candidate_from(profile))
        if areas:
            earlier = newcomers.get(profile.id)
            since = max(event.created_at, earlier.since) if earlier else event.created_at
            newcomers[profile.id] = _Newcomer(profile.id, profile.kind, profile.gss_code, areas,
                                              since, profile.updated_at)
    return newcomers


def _recheck(session: Session, index: CandidateIndex, newcomers: dict[str, _Newcomer],
             checked: list[_Checked], deadline: float) -> bool:
    """Re-rank the runs newcomers may change, into `checked`; False if the budget ran out."""
    for profile, run, request, relevant in _helped(session, newcomers):
        if time.monotonic() > deadline and checked:  # at least one per pass: always progress
            return False
        needs = index.index.match(request, limit=PARTNERS_KEPT_PER_NEED)
        entered = _entered_top(relevant, needs, partial(_stored_tops, session, run))
        checked.append(_Checked(run.id, profile.id, profile.version, run.checked_at,
                                needs if entered else None, entered))
    return True


def _consume(session: Session, event_ids: list[str]) -> None:
    session.execute(update(OutboxEvent)
                    .where(OutboxEvent.id.in_(event_ids), OutboxEvent.consumed_at.is_(None))
                    .values(consumed_at=utcnow()))


def _apply(session: Session, checked: list[_Checked], started: datetime,
           outcome: RefreshOutcome) -> None:
    """Write what a pass found: stamp the runs checked, replace and announce the changed ones."""
    unchanged = [c.run_id for c in checked if c.needs is None]
    for start in range(0, len(unchanged), PASS_BATCH):
        session.execute(update(MatchRun)
                        .where(MatchRun.id.in_(unchanged[start:start + PASS_BATCH]),
                               or_(MatchRun.checked_at.is_(None), MatchRun.checked_at < started))
                        .values(checked_at=started))
    for item in (c for c in checked if c.needs is not None):
        run = session.get(MatchRun, item.run_id, with_for_update=True)
        profile = session.get(Profile, item.profile_id)
        if run is None or run.checked_at != item.checked_at or profile is None \
                or profile.version != item.profile_version:
            continue  # erased, changed, or another pass got there first
        _replace(session, run, item.needs, item.newcomer_id)
        run.checked_at = run.indexed_at = started  # this pass's index caught up after it started
        outcome.refreshed.append(profile.id)
        outcome.partner_ids += tuple(p.profile_id for n in item.needs for p in n.partners[:TOP])
        delivery = owe_new_partner(session, profile, run)
        if delivery is not None:
            outcome.delivery_ids.append(delivery.id)


def _waiting(session: Session, event_id: str) -> list[OutboxEvent]:
    """Return the other refresh events not yet consumed, oldest first."""
    return list(session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.topic == REFRESH_TOPIC, OutboxEvent.consumed_at.is_(None),
               OutboxEvent.id != event_id)
        .order_by(OutboxEvent.created_at)
        .limit(PASS_BATCH)
    ))


def _helped(session: Session, newcomers: dict[str, _Newcomer]
            ) -> Iterator[tuple[Profile, MatchRun, MatchRequest, dict[str, _Newcomer]]]:
    """Yield the profiles with a ready run of their current version, made or last checked before
    a newcomer arrived, that struggle where it is strong and seek its kind (not its own council),
    with their match request and the newcomers that may change their run."""
    latest = max(n.since for n in newcomers.values())
    checked = func.coalesce(MatchRun.checked_at, MatchRun.indexed_at, MatchRun.generated_at)
    rows = session.execute(
        select(Profile, MatchRun)
        .join(MatchRun, (MatchRun.profile_id == Profile.id)
              & (MatchRun.profile_version == Profile.version))
        .where(MatchRun.status == RunStatus.READY, checked < latest)
        .order_by(checked, Profile.created_at)  # the longest unchecked first
    ).all()
    for profile, run in rows:
        request = request_from(profile)
        struggles = {area for area, _ in struggling_areas(request, request.council_type)}
        relevant = {n.profile_id: n for n in newcomers.values()
                    if _may_help(n, profile, run, request, struggles)}
        if relevant:
            yield profile, run, request, relevant


def _may_help(newcomer: _Newcomer, profile: Profile, run: MatchRun, request: MatchRequest,
              struggles: set[str]) -> bool:
    """Say whether a newcomer could change a run: it arrived after the run was made (its index
    caught up) or checked, was not a candidate in the index that ranked it, is another council's
    (or a supplier), is of a kind sought, and is strong where it struggles.

    A profile whose address was confirmed before it was submitted is a candidate from its
    submission, but writes its refresh event at its own match, which a backlog can delay: runs
    ranked in between already had it in their index and are not ranked again for it.
    """
    made = run.checked_at or run.indexed_at or run.generated_at
    if newcomer.profile_id == profile.id or made >= newcomer.since:
        return False
    if run.indexed_at is not None and run.indexed_at >= newcomer.changed_at + SYNC_OVERLAP:
        return False  # its ranking already had the newcomer as it is
    if newcomer.gss_code and newcomer.gss_code == profile.gss_code:
        return False
    return newcomer.kind in request.seeking and not newcomer.areas.isdisjoint(struggles)


def _stored_tops(session: Session, run: MatchRun) -> dict[str, set[str]]:
    return {area: set(top_ids[:TOP]) for area, top_ids in session.execute(
        select(NeedRecommendations.service_area, NeedRecommendations.top_partner_ids)
        .where(NeedRecommendations.match_run_id == run.id))}


def _entered_top(newcomers: Mapping[str, _Newcomer], needs: list[NeedMatches],
                 stored_tops: Callable[[], dict[str, set[str]]]) -> str | None:
    """Return a newcomer now among the first partners of a need it was not top for, if any.

    The stored ranking is read only when a newcomer is in a new top at all.
    """
    candidates = [(need.service_area, p.profile_id) for need in needs
                  for p in need.partners[:TOP] if p.profile_id in newcomers]
    if not candidates:
        return None
    before = stored_tops()
    return next((pid for area, pid in candidates if pid not in before.get(area, set())), None)


def _replace(session: Session, run: MatchRun, needs: list[NeedMatches], newcomer_id: str) -> None:
    session.execute(delete(NeedRecommendations).where(NeedRecommendations.match_run_id == run.id))
    rows = need_rows(run.id, needs)
    if rows:
        session.execute(insert(NeedRecommendations.__table__), rows)
    run.refreshed_by = newcomer_id
    session.expire(run, ["needs"])
