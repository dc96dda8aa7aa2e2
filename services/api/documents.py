"""The API's JSON documents, built from the domain's records; services/api/schemas.py dumps them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from partnermatch.shared.db.models import Profile
from partnermatch.shared.db.statuses import RunStatus
from partnermatch.shared.recommendations.runs import latest_run, needs_of
from partnermatch.shared.reference.records import NeedMatches


def profile_document(profile: Profile, email_confirmed: bool) -> dict[str, Any]:
    """Return the API representation of a profile."""
    document = {"id": profile.id, "kind": profile.kind, **profile.fields}
    if profile.kind == "council":
        council = profile.council
        document.update(
            gss_code=profile.gss_code,
            name=council.name,
            council_type=council.council_type,
            region=council.region,
            population=council.population,
        )
    document.update(
        version=profile.version,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
        email_confirmed=email_confirmed,
    )
    return document


def matches_document(session: Session, profile: Profile, limit: int) -> dict[str, Any]:
    """Return the API's matches document for a profile's current version."""
    run = latest_run(session, profile)
    document: dict[str, Any] = {
        "profile_id": profile.id,
        "profile_version": profile.version,
        "status": run.status if run else RunStatus.PENDING,
        "model_version": run.model_version if run else None,
        "generated_at": run.generated_at if run else None,
        "needs": [],
    }
    if run is not None and run.status == RunStatus.READY:
        document["needs"] = [_need_document(need) for need in needs_of(session, run, limit)]
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
