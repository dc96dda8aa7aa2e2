"""Reading match results back: the matches document the API serves and the email shows."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shared.models import MatchRun, Profile, Recommendation
from shared.records import NeedMatches, Partner


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


def needs_of(run: MatchRun, limit: int = 50) -> list[NeedMatches]:
    """Group a run's recommendations by need, weakest need first, best partner first."""
    return _grouped(run.recommendations, limit)


def top_needs(session: Session, run: MatchRun, limit: int) -> list[NeedMatches]:
    """Like needs_of, reading only the best `limit` partners of each need from the database."""
    rows = session.scalars(select(Recommendation).where(
        Recommendation.match_run_id == run.id, Recommendation.rank <= limit))
    return _grouped(rows, limit)


def _grouped(rows: Iterable[Recommendation], limit: int) -> list[NeedMatches]:
    ordered = sorted(rows, key=lambda r: (r.need_rating, r.service_area, r.rank))
    return [
        NeedMatches(
            service_area=area,
            rating=group[0].need_rating,
            partners=tuple(_partner(r) for r in group[:limit]),
        )
        for area, rows in groupby(ordered, key=lambda r: r.service_area)
        for group in [list(rows)]
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


def matches_document(session: Session, profile: Profile, limit: int) -> dict[str, Any]:
    """Return the API's matches document for a profile."""
    run = latest_run(session, profile)
    document: dict[str, Any] = {
        "profile_id": profile.id,
        "profile_version": profile.version,
        "status": run.status if run else "pending",
        "model_version": run.model_version if run else None,
        "generated_at": run.generated_at if run else None,
        "needs": [],
    }
    if run is not None:
        document["needs"] = [_need_document(need) for need in needs_of(run, limit)]
    return document


def _need_document(need: NeedMatches) -> dict[str, Any]:
    return {
        "service_area": need.service_area,
        "rating": need.rating,
        "partners": [
            {
                "partner_id": p.profile_id,
                "name": p.name,
                "kind": p.kind,
                "gss_code": p.gss_code,
                "score": round(p.score, 4),
                "strength_rating": p.strength_rating,
                "reasons": list(p.reasons),
            }
            for p in need.partners
        ],
    }
