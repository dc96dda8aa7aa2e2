"""Reading match results back: the rankings the API serves, the pages show and the email sends."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from partnermatch.shared.db.models import MatchRun, Profile, ProfileVersion, Recommendation
from partnermatch.shared.matching.index import struggling_areas
from partnermatch.shared.reference.addresses import REJECTED, UNVERIFIED, UNVERIFIED_REASON
from partnermatch.shared.reference.records import MatchRequest, NeedMatches, Partner


def recommendation_rows(match_run_id: str, needs: list[NeedMatches]) -> list[dict[str, Any]]:
    """Return the rows storing a ranking: each need's partners, best first."""
    return [
        {"match_run_id": match_run_id, "service_area": need.service_area,
         "need_rating": need.rating, "rank": rank, "partner_profile_id": partner.profile_id,
         "partner_kind": partner.kind, "partner_name": partner.name,
         "partner_gss_code": partner.gss_code, "score": partner.score,
         "strength_rating": partner.strength_rating, "reasons": list(partner.reasons)}
        for need in needs for rank, partner in enumerate(need.partners, start=1)
    ]


def latest_run(session: Session, profile: Profile) -> MatchRun | None:
    """Return the match run for the profile's current version, if it has been matched."""
    return session.scalar(
        select(MatchRun)
        .where(MatchRun.profile_id == profile.id, MatchRun.profile_version == profile.version)
        .options(selectinload(MatchRun.recommendations))
    )


def needs_of(session: Session, run: MatchRun, limit: int = 50) -> list[NeedMatches]:
    """Return every need the matched version asked about, weakest first, best partner first.

    A need nobody is strong in yet has no recommendations stored, and is listed with no partners.
    Partners are as they stand now (partnermatch.shared.reference.addresses): see as_they_stand.
    """
    return as_they_stand(session, _grouped(run.recommendations, limit, asked_needs(session, run)))


def top_needs(session: Session, run: MatchRun, limit: int) -> list[NeedMatches]:
    """Like needs_of, reading only the best `limit` partners of each need from the database."""
    rows = session.scalars(select(Recommendation).where(
        Recommendation.match_run_id == run.id, Recommendation.rank <= limit))
    return as_they_stand(session, _grouped(rows, limit, asked_needs(session, run)))


def as_they_stand(session: Session, needs: list[NeedMatches]) -> list[NeedMatches]:
    """Drop partners whose address a person has since rejected; label those not yet verified.

    Read when shown, not stored with the ranking, so a decision on /ops counts at once.
    """
    ids = {p.profile_id for need in needs for p in need.partners}
    if not ids:
        return needs
    status = dict(session.execute(select(Profile.id, Profile.address_status)
                                  .where(Profile.id.in_(ids))).all())
    return [replace(need, partners=tuple(
        replace(p, reasons=(UNVERIFIED_REASON, *p.reasons))
        if status.get(p.profile_id) == UNVERIFIED else p
        for p in need.partners if status.get(p.profile_id) != REJECTED))
        for need in needs]


def best_of(needs: Iterable[NeedMatches], limit: int) -> list[NeedMatches]:
    """Return a ranking as top_needs reads it back once stored: the best `limit` of each need.

    For the worker that has just matched, so that the email needs no second read of the rows.
    """
    return [NeedMatches(need.service_area, need.rating, tuple(need.partners[:limit]))
            for need in sorted(needs, key=lambda n: (n.rating, n.service_area))]


def asked_needs(session: Session, run: MatchRun) -> list[tuple[str, int]]:
    """Return the areas (and ratings) the run's version of the profile struggles with.

    They are the needs the match looked for partners for (partnermatch.shared.matching.index
    decides which), worked out again from the version's stored ratings rather than stored twice.
    """
    profile = session.get(Profile, run.profile_id)
    fields = session.scalar(select(ProfileVersion.fields).where(
        ProfileVersion.profile_id == run.profile_id,
        ProfileVersion.version == run.profile_version))
    if profile is None or (fields is None and run.profile_version != profile.version):
        return []
    ratings = (fields or profile.fields).get("ratings", {})
    council_type = profile.council.council_type if profile.kind == "council" and profile.council \
        else None
    request = MatchRequest(profile_id=profile.id, kind=profile.kind,
                           ratings={area: int(rating) for area, rating in ratings.items()})
    return struggling_areas(request, council_type)


def _grouped(rows: Iterable[Recommendation], limit: int,
             asked: list[tuple[str, int]]) -> list[NeedMatches]:
    partners: dict[str, list[Recommendation]] = {}
    for row in sorted(rows, key=lambda r: r.rank):
        partners.setdefault(row.service_area, []).append(row)
    ratings = dict(asked) | {area: found[0].need_rating for area, found in partners.items()}
    return [
        NeedMatches(service_area=area, rating=rating,
                    partners=tuple(_partner(r) for r in partners.get(area, [])[:limit]))
        for area, rating in sorted(ratings.items(), key=lambda ar: (ar[1], ar[0]))
    ]


def _partner(row: Recommendation) -> Partner:
    return Partner(
        profile_id=row.partner_profile_id,
        name=row.partner_name,
        kind=row.partner_kind,
        gss_code=row.partner_gss_code,
        score=row.score,
        strength_rating=row.strength_rating,
        reasons=tuple(row.reasons),
    )

