"""Profiles a person would recognise, stored for the domain tests: Leeds and Bradford councils
and a care supplier, and a match run recommending partners to a council."""

from __future__ import annotations

from sqlalchemy.orm import Session

from partnermatch.shared.db.models import MatchRun, Profile
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.consume import store_run
from partnermatch.shared.reference.records import NeedMatches, Partner

LEEDS, BRADFORD = "E08000035", "E08000032"


def council(session: Session, gss_code: str = LEEDS, email: str = "sam.officer@leeds.gov.uk",
            ratings: dict[str, int] | None = None, **changes) -> Profile:
    fields = {"kind": "council", "gss_code": gss_code, "contact_name": "Sam Officer",
              "contact_email": email,
              "ratings": ratings or {"childrens_services": 1, "adult_social_care": 2, "waste": 5},
              "needs_text": "Care leavers in suitable accommodation", "strengths_text": "",
              "seeking": ["council", "supplier"], "capacity_to_support": "limited",
              "share_contact": True, **changes}
    profile, _token = create_profile(session, fields)
    return profile


def supplier(session: Session, email: str = "pat@example-care.co.uk") -> Profile:
    profile, _token = create_profile(session, {
        "kind": "supplier", "name": "Example Care Ltd", "contact_name": "Pat Jones",
        "contact_email": email, "ratings": {"adult_social_care": 5, "childrens_services": 4},
        "regions_served": ["Yorkshire and The Humber"], "description": "Supported housing",
        "evidence_text": "CQC outstanding", "company_number": None, "share_contact": True,
    }, approved=True)
    return profile


def partner(profile: Profile, name: str, strength: int, score: float) -> Partner:
    return Partner(profile_id=profile.id, name=name, kind=profile.kind, gss_code=profile.gss_code,
                   score=score, strength_rating=strength,
                   reasons=(f"Rates itself {strength} out of 5",))


def recommend(session: Session, requester: Profile, *needs: NeedMatches) -> MatchRun:
    """Store a ready match run for the requester's current version with these rankings."""
    run = store_run(session, requester, list(needs), None)
    session.flush()
    return run
