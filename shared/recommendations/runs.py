"""Reading match results back: the rankings the API serves, the pages show and the email sends."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from partnermatch.shared.db.models import MatchRun, NeedRecommendations, Profile, ProfileVersion
from partnermatch.shared.matching.index import struggling_areas
from partnermatch.shared.reference.addresses import REJECTED, UNVERIFIED, UNVERIFIED_REASON
from partnermatch.shared.reference.records import MatchRequest, NeedMatches, Partner

# A partner counts as recommended when it is among a need's first TOP_PARTNERS (what the email
# shows): their ids are stored beside the document, for the counts and for freshness.
TOP_PARTNERS = 5


def need_rows(match_run_id: str, needs: Iterable[NeedMatches]) -> list[dict[str, Any]]:
    """Return the rows storing a ranking: one per need with partners, its partners best first."""
    return [
        {"match_run_id": match_run_id, "service_area": need.service_area, "rating": need.rating,
         "partners": [partner_document(p) for p in need.partners],
         "top_partner_ids": [p.profile_id for p in need.partners[:TOP_PARTNERS]]}
        for need in needs if need.partners
    ]


def partner_document(partner: Partner) -> dict[str, Any]:
    """Return how a recommended partner is stored in its need's document."""
    return {"profile_id": partner.profile_id, "name": partner.name, "kind": partner.kind,
            "gss_code": partner.gss_code, "score": partner.score,
            "strength_rating": partner.strength_rating, "reasons": list(partner.reasons)}


def partner_from(document: dict[str, Any]) -> Partner:
    """Return a recommended partner as stored in its need's document."""
    return Partner(profile_id=document["profile_id"], name=document["name"],
                   kind=document["kind"], gss_code=document["gss_code"],
                   score=document["score"], strength_rating=document["strength_rating"],
                   reasons=tuple(document["reasons"]))


def latest_run(session: Session, profile: Profile) -> MatchRun | None:
    """Return the match run for the profile's current version, if it has been matched."""
    return session.scalar(
        select(MatchRun)
        .where(MatchRun.profile_id == profile.id, MatchRun.profile_version == profile.version)
        .options(selectinload(MatchRun.needs))
    )


def needs_of(session: Session, run: MatchRun, limit: int = 50) -> list[NeedMatches]:
    """Return every need the matched version asked about, weakest first, best partner first.

    A need nobody is strong in yet has no recommendations stored, and is listed with no partners.
    Partners are as they stand now (partnermatch.shared.reference.addresses): see as_they_stand.
    """
    return as_they_stand(session, _grouped(run.needs, limit, asked_needs(session, run)))


def top_needs(session: Session, run: MatchRun, limit: int) -> list[NeedMatches]:
    """Like needs_of, for a run read without its needs: one query reads them."""
    rows = session.scalars(select(NeedRecommendations)
                           .where(NeedRecommendations.match_run_id == run.id))
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


def _grouped(rows: Iterable[NeedRecommendations], limit: int,
             asked: list[tuple[str, int]]) -> list[NeedMatches]:
    stored = {row.service_area: row for row in rows}
    ratings = dict(asked) | {area: row.rating for area, row in stored.items()}
    return [
        NeedMatches(service_area=area, rating=rating, partners=tuple(
            partner_from(p) for p in (stored[area].partners[:limit] if area in stored else ())))
        for area, rating in sorted(ratings.items(), key=lambda ar: (ar[1], ar[0]))
    ]
