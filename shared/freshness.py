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

from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from shared.candidates import CandidateIndex, candidate_from, request_from
from shared.matching import CAPACITY_FACTORS, struggling_areas
from shared.models import MatchRun, OutboxEvent, Profile, Recommendation, utcnow
from shared.notifications import owe_new_partner
from shared.outbox import REFRESH_TOPIC
from shared.records import Candidate, NeedMatches
from shared.results import recommendation_rows
from shared.taxonomy import STRONG_MIN, delivers

TOP = 3  # a change among the first three partners of a need is worth an email
PASS_BATCH = 500  # refresh events one pass takes at most
PARTNERS_KEPT_PER_NEED = 50  # the most the API will show (limit ≤ 50), in a match or a refresh


@dataclass
class RefreshOutcome:
    """What consuming a refresh event did."""

    status: str  # refreshed | already | gone | not strong
    examined: int = 0
    refreshed: list[str] = field(default_factory=list)  # profile ids whose runs changed
    delivery_ids: list[str] = field(default_factory=list)
    partner_ids: tuple[str, ...] = ()


def strong_areas(candidate: Candidate) -> frozenset[str]:
    """Return the areas where a profile may be recommended as a partner (as the index decides)."""
    if candidate.capacity_to_support not in CAPACITY_FACTORS:
        return frozenset()
    if candidate.kind == "supplier" and not candidate.approved:
        return frozenset()
    if candidate.kind == "council" and not candidate.council_type:
        return frozenset()
    return frozenset(
        area for area, rating in candidate.ratings.items()
        if rating >= STRONG_MIN
        and (candidate.kind == "supplier" or delivers(candidate.council_type, area))
    )


def owe_refresh(session: Session, profile: Profile) -> OutboxEvent | None:
    """Record a refresh event for a profile strong somewhere, in the caller's transaction."""
    if profile.demo or not strong_areas(candidate_from(profile)):
        return None
    event = OutboxEvent(topic=REFRESH_TOPIC, profile_id=profile.id,
                        profile_version=profile.version)
    session.add(event)
    return event


def refresh_partners(session: Session, index: CandidateIndex, event_id: str) -> RefreshOutcome:
    """Re-rank the profiles strong newcomers could help; replace and announce changed tops.

    One pass takes every refresh event waiting, not only its own, so a burst of strong profiles
    costs a few passes over the profiles they could help rather than one pass each.
    """
    event = session.get(OutboxEvent, event_id, with_for_update=True)  # one consumer at a time
    if event is None:
        return RefreshOutcome("gone")
    if event.consumed_at is not None:
        return RefreshOutcome("already")
    newcomers: dict[str, tuple[Profile, frozenset[str]]] = {}
    for waiting in [event, *_waiting(session, event.id)]:
        waiting.consumed_at = utcnow()
        profile = session.get(Profile, waiting.profile_id) if waiting.profile_id else None
        if profile is None or profile.version != waiting.profile_version:
            continue  # deleted or changed since: its own match will owe a new event
        areas = strong_areas(candidate_from(profile))
        if areas:
            newcomers[profile.id] = (profile, areas)
    if not newcomers:
        return RefreshOutcome("not strong")
    index.refresh(session)
    outcome = RefreshOutcome("refreshed")
    for profile, run in _helped(session, list(newcomers.values())):
        outcome.examined += 1
        needs = index.index.match(request_from(profile), limit=PARTNERS_KEPT_PER_NEED)
        entered = _entered_top(newcomers, _stored_tops(session, run), needs)
        if entered is None:
            continue
        session.refresh(run, with_for_update=True)  # a concurrent pass waits, then reads ours
        _replace(session, run, needs, entered)
        outcome.refreshed.append(profile.id)
        outcome.partner_ids += tuple(p.profile_id for n in needs for p in n.partners[:TOP])
        delivery = owe_new_partner(session, profile, run)
        if delivery is not None:
            outcome.delivery_ids.append(delivery.id)
    return outcome


def _waiting(session: Session, event_id: str) -> list[OutboxEvent]:
    """Return other refresh events not yet consumed that no other pass holds."""
    return list(session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.topic == REFRESH_TOPIC, OutboxEvent.consumed_at.is_(None),
               OutboxEvent.id != event_id)
        .order_by(OutboxEvent.created_at)
        .limit(PASS_BATCH)
        .with_for_update(skip_locked=True)
    ))


def _helped(session: Session, newcomers: list[tuple[Profile, frozenset[str]]]
            ) -> list[tuple[Profile, MatchRun]]:
    """Return the profiles with a ready run of their current version that struggle where a
    newcomer is strong and seek partners of its kind (never a newcomer's own council)."""
    rows = session.execute(
        select(Profile, MatchRun)
        .join(MatchRun, (MatchRun.profile_id == Profile.id)
              & (MatchRun.profile_version == Profile.version))
        .where(MatchRun.status == "ready")
        .order_by(Profile.created_at)
    )
    helped = []
    for profile, run in rows:
        request = request_from(profile)
        struggles = {area for area, _ in struggling_areas(request, request.council_type)}
        if any(_may_help(newcomer, areas, profile, request.seeking, struggles)
               for newcomer, areas in newcomers):
            helped.append((profile, run))
    return helped


def _may_help(newcomer: Profile, areas: frozenset[str], profile: Profile,
              seeking: tuple[str, ...], struggles: set[str]) -> bool:
    if newcomer.id == profile.id or newcomer.kind not in seeking:
        return False
    if newcomer.gss_code and newcomer.gss_code == profile.gss_code:
        return False
    return not areas.isdisjoint(struggles)


def _stored_tops(session: Session, run: MatchRun) -> dict[str, set[str]]:
    tops: dict[str, set[str]] = {}
    for area, partner_id in session.execute(
            select(Recommendation.service_area, Recommendation.partner_profile_id)
            .where(Recommendation.match_run_id == run.id, Recommendation.rank <= TOP)):
        tops.setdefault(area, set()).add(partner_id)
    return tops


def _entered_top(newcomers: dict[str, object], before: dict[str, set[str]],
                 needs: list[NeedMatches]) -> str | None:
    """Return a newcomer now among the first partners of a need it was not top for, if any."""
    for need in needs:
        for partner in need.partners[:TOP]:
            if partner.profile_id in newcomers \
                    and partner.profile_id not in before.get(need.service_area, set()):
                return partner.profile_id
    return None


def _replace(session: Session, run: MatchRun, needs: list[NeedMatches], newcomer_id: str) -> None:
    session.execute(delete(Recommendation).where(Recommendation.match_run_id == run.id))
    rows = recommendation_rows(run.id, needs)
    if rows:
        session.execute(insert(Recommendation.__table__), rows)
    run.refreshed_at = utcnow()
    run.refreshed_by = newcomer_id
    session.expire(run, ["recommendations"])
