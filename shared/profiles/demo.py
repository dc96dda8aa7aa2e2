"""Demo profiles from public data, so a fresh install has councils and suppliers to recommend.

One council profile per English council that runs children's services and adult social care
(county, unitary, metropolitan, London borough, City of London), and a few fictional suppliers.
Every demo address is under ``example.invalid`` and every demo profile has ``demo=True``: demo
profiles are candidates only, never requesters, so no outbox event is written and nobody is emailed.

Ratings come only from data we hold; every other service area is left unrated:
- children's services: the latest inspection with an overall Ofsted grade (outstanding 5, good 4,
  requires improvement 2, inadequate 1). Inspections after the 2026 reform may carry no overall
  grade, so an older graded one can be the latest graded; its year is in the text.
- adult social care: the mean of the council's ``asc:*`` robust z-scores (ASCOF outcomes and staff
  turnover, polarity-adjusted), each clipped to +/-3 so one freak value cannot decide, placed in
  national quintiles (bottom fifth 1 ... top fifth 5). At least three measures are needed.
- education and SEND: the same method over ``SEND_MEASURES``, a small set of DfE LAIT outcomes
  for pupils with SEN and all pupils (EHC plan timeliness, tribunal appeals, attainment, progress,
  destinations).
"Nationally" means among these English councils. The texts list checkable facts: the Ofsted grade
and sub-judgements, and named measures in the best or worst quarter of councils. Nothing is said for
the council that only it could say: whether it can support others, or that it shares its details.
"""

from __future__ import annotations

import secrets
import uuid
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import Council, Profile, ProfileVersion, utcnow
from partnermatch.shared.profiles.store import hash_token
from partnermatch.shared.progress import progress
from partnermatch.shared.reference.records import OfstedJudgement
from partnermatch.shared.reference.register import ofsted_history
from partnermatch.shared.reference.taxonomy import STRONG_MIN, areas_delivered_by

UPPER_TIER_TYPES = ("CTY", "UA", "MD", "LBO", "CC")
# Fixed for ever: demo ids are uuid5(DEMO_NAMESPACE, "council:<gss>" or "supplier:<slug>").
DEMO_NAMESPACE = uuid.UUID("0d6f3c1e-5a8b-4c2d-9e7f-6a1b2c3d4e5f")
DEMO_CONTACT_NAME = "Demo contact"
OFSTED_RATINGS = {"outstanding": 5, "good": 4, "requires improvement": 2, "inadequate": 1}
MIN_MEASURES = 3
Z_CLIP = 3.0

# Scores are polarity-adjusted (higher is better); measures where a lower raw value is better say
# "lowest quartile" when good and "highest quartile" when bad, so every line reads true.
ADULT_MEASURES = {
    "asc:ASC1": "Carer-reported quality of life (adult social care)",
    "asc:ASC2": "Quality of life of people who use adult social care",
    "asc:ASC3": "People who use adult social care finding information easily",
    "asc:ASC4": "Carers finding information about support easily (adult social care)",
    "asc:ASC5": "People needing no or less support after short-term care (adult social care)",
    "asc:ASC7": "Adult social care staff turnover",
}
CHILDREN_MEASURES = {  # in the texts only: the rating is Ofsted's
    "lait:CareLeaverAcc": "Care leavers in suitable accommodation",
    "lait:CareLeaverEET": "Care leavers in education, employment or training",
    "lait:LAC_LongStable%": "Long-term placement stability of children looked after",
    "lait:ReReferral": "Re-referrals to children's social care within 12 months",
    "lait:PrevRegCPR": "Children on a child protection plan for a second time",
    "lait:Work_Force_TO_Rate": "Children's social worker turnover",
}
SEND_MEASURES = {
    "lait:SEN_EHC_Excpt_20wks": "New EHC plans issued within 20 weeks",
    "lait:SEN_AppealableDec": "SEND decisions appealed to the tribunal",
    "lait:NEW_KS2_RWM_Sen_Withsta": "Pupils with an EHC plan meeting the expected standard at KS2",
    "lait:NEW_KS2_RWM_Sen_W/Osta": "Pupils on SEN support meeting the expected standard at KS2",
    "lait:SEN_Stat_AVG_Prog8_Score": "Progress 8 of pupils with an EHC plan",
    "lait:SEN_WoStat_AVG_Prog8_Score": "Progress 8 of pupils on SEN support",
    "lait:KS4_SEN_Des_incSpec": "Young people with SEN in education, employment or training at 17",
    "lait:KS2RWM_Expected_STD":
        "Pupils meeting the expected standard at KS2 in reading, writing and maths",
    "lait:AVG_Prog8_Score": "Progress 8 of all pupils",
}
TEXT_MEASURES = {**ADULT_MEASURES, **CHILDREN_MEASURES, **SEND_MEASURES}
LOWER_IS_BETTER = frozenset(
    {"asc:ASC7", "lait:ReReferral", "lait:PrevRegCPR", "lait:Work_Force_TO_Rate",
     "lait:SEN_AppealableDec"}
)
RATED_AREAS: dict[str, Callable[[str], bool]] = {
    "adult_social_care": lambda key: key.startswith("asc:"),
    "education_send": SEND_MEASURES.__contains__,
}
SUB_JUDGEMENTS = {
    "leaders": "impact of leaders",
    "help_and_protection": "help and protection of children",
    "in_care": "experiences of children in care",
    "care_leavers": "experiences of care leavers",
}


ENGLAND = (
    "North East", "North West", "Yorkshire and The Humber", "East Midlands", "West Midlands",
    "East of England", "London", "South East", "South West",
)
FICTIONAL = "Fictional demo supplier: not a real company, for trying out partnermatch only."


@dataclass(frozen=True)
class DemoSupplier:
    """A made-up supplier, named so nobody could take it for a real one."""

    slug: str
    name: str
    ratings: dict[str, int]
    regions_served: tuple[str, ...]
    description: str
    evidence: str


SUPPLIERS = (
    DemoSupplier(
        "example-care-partnerships", "Example Care Partnerships (demo)",
        {"adult_social_care": 5, "public_health": 4},
        ("North East", "North West", "Yorkshire and The Humber"),
        "Home care, reablement and carer support run in partnership with councils.",
        "Reablement after hospital discharge; carers' assessments and respite; moving home care "
        "to outcome-based commissioning.",
    ),
    DemoSupplier(
        "sample-family-services", "Sample Family Services (demo)",
        {"childrens_services": 5, "education_send": 4},
        ("London", "South East", "East of England"),
        "Family help, foster carer recruitment and support for care leavers.",
        "Recruiting and keeping foster carers; supported accommodation for care leavers; "
        "reducing social worker turnover and agency use.",
    ),
    DemoSupplier(
        "illustrative-send-advisers", "Illustrative SEND Advisers (demo)",
        {"education_send": 5, "childrens_services": 4},
        ("East Midlands", "West Midlands", "South West"),
        "Advice on special educational needs and disabilities services.",
        "Issuing EHC plans within 20 weeks; fewer SEND tribunal appeals; inclusion in "
        "mainstream schools; preparing young people with SEN for adulthood.",
    ),
    DemoSupplier(
        "placeholder-highways", "Placeholder Highways Ltd (demo)",
        {"highways_transport": 5, "environmental_regulatory": 4},
        ("East Midlands", "West Midlands", "South West", "Wales"),
        "Highway maintenance and rural transport planning.",
        "Pothole repair and road condition surveys; winter gritting on rural roads; demand "
        "responsive bus services for sparse rural areas.",
    ),
    DemoSupplier(
        "demo-waste-cooperative", "Demo Waste and Recycling Co-operative (demo)",
        {"waste": 5, "environmental_regulatory": 4},
        ("North West", "Yorkshire and The Humber", "Scotland"),
        "Waste collection and recycling services for councils.",
        "Raising household recycling rates; food waste collection; fewer missed bins; "
        "tackling fly-tipping.",
    ),
    DemoSupplier(
        "fictional-digital-services", "Fictional Digital Services (demo)",
        {"customer_digital": 5, "revenues_benefits": 4, "corporate_back_office": 4},
        (*ENGLAND, "Scotland", "Wales"),
        "Digital customer services and online forms for councils.",
        "Moving council tax, benefits and waste requests online; contact centre call "
        "reduction; accessible websites.",
    ),
    DemoSupplier(
        "example-housing-solutions", "Example Housing Solutions (demo)",
        {"housing": 5, "planning": 4},
        ("London", "South East", "East of England"),
        "Homelessness prevention and temporary accommodation.",
        "Preventing homelessness; reducing the use of bed and breakfast accommodation; "
        "speeding up planning decisions on affordable housing.",
    ),
    DemoSupplier(
        "sample-care-technology", "Sample Care Technology (demo)",
        {"adult_social_care": 4, "customer_digital": 4, "public_health": 4},
        ENGLAND,
        "Care technology and digital front doors for adult social care.",
        "Telecare that helps people live at home for longer; online self-assessment for adult "
        "social care; information and advice for carers.",
    ),
)


@dataclass(frozen=True)
class DemoProfile:
    """A demo profile as it should be stored."""

    id: str
    kind: str
    gss_code: str | None
    fields: dict[str, Any]


class Standings:
    """Where a value stands among English councils, per measure and per rated area."""

    def __init__(self, scores: Iterable[dict[str, float]]):
        columns: dict[str, list[float]] = defaultdict(list)
        for council_scores in scores:
            for key, value in council_scores.items():
                columns[key].append(value)
        self._sorted = {key: sorted(values) for key, values in columns.items()}

    def share_below(self, key: str, value: float) -> float:
        """Return the share of councils strictly below a value."""
        values = self._sorted[key]
        return bisect_left(values, value) / len(values)

    def share_above(self, key: str, value: float) -> float:
        """Return the share of councils strictly above a value."""
        values = self._sorted[key]
        return (len(values) - bisect_right(values, value)) / len(values)


def seed_demo(session: Session) -> int:
    """Create or refresh the demo councils and suppliers; return how many were made or changed."""
    wanted = [*council_profiles(upper_tier_councils(session)), *supplier_profiles()]
    ids = [demo.id for demo in wanted]
    stored = {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(ids)))}
    changed = sum(_store(session, stored.get(demo.id), demo)
                  for demo in progress(wanted, "demo profiles", len(wanted)))
    session.flush()
    return changed


def upper_tier_councils(session: Session) -> list[Council]:
    """Return the English councils that run children's services and adult social care."""
    query = select(Council).where(
        Council.nation == "England", Council.council_type.in_(UPPER_TIER_TYPES)
    )
    return list(session.scalars(query.order_by(Council.gss_code)))


def demo_id(name: str) -> str:
    """Return the fixed id of a demo profile, from 'council:<gss>' or 'supplier:<slug>'."""
    return str(uuid.uuid5(DEMO_NAMESPACE, name))


def council_profiles(councils: list[Council]) -> list[DemoProfile]:
    """Build a demo profile for each council that has at least one rating from public data."""
    scores = {c.gss_code: _area_scores(c.outcomes) for c in councils}
    named = [{k: v for k, v in c.outcomes.items() if k in TEXT_MEASURES} for c in councils]
    standings = Standings([*scores.values(), *named])
    profiles = []
    for council in councils:
        fields = council_fields(council, scores[council.gss_code], standings)
        if fields["ratings"]:
            profiles.append(
                DemoProfile(demo_id(f"council:{council.gss_code}"), "council",
                            council.gss_code, fields)
            )
    return profiles


def supplier_profiles() -> list[DemoProfile]:
    """Build the fictional demo suppliers."""
    return [
        DemoProfile(demo_id(f"supplier:{s.slug}"), "supplier", None, supplier_fields(s))
        for s in SUPPLIERS
    ]


def supplier_fields(supplier: DemoSupplier) -> dict[str, Any]:
    """Return the editable fields of a demo supplier's profile."""
    return {
        "contact_name": DEMO_CONTACT_NAME,
        "contact_email": f"demo+supplier-{supplier.slug}@example.invalid",
        "share_contact": False,
        "name": supplier.name,
        "ratings": dict(supplier.ratings),
        "regions_served": list(supplier.regions_served),
        "description": f"{FICTIONAL} {supplier.description}",
        "evidence_text": f"Fictional evidence for demonstration only. {supplier.evidence}",
        "company_number": None,
    }


def council_fields(
    council: Council, area_scores: dict[str, float], standings: Standings
) -> dict[str, Any]:
    """Return the editable fields of a council's demo profile."""
    ratings = _ratings(council, area_scores, standings)
    strengths, needs = ofsted_lines(ofsted_history(council))
    top, bottom = _quartile_lines(council.outcomes, standings)
    return {
        "contact_name": DEMO_CONTACT_NAME,
        "contact_email": f"demo+{council.gss_code.lower()}@example.invalid",
        "share_contact": False,
        "ratings": ratings,
        "needs_text": "\n".join(needs + bottom),
        "strengths_text": "\n".join(strengths + top),
        "seeking": ["council", "supplier"],
        # No capacity_to_support: the council has not joined and never said what it can offer
        # (the matching treats its capacity as unknown,
        # partnermatch.shared.recommendations.live_index).
    }


def _area_scores(outcomes: dict[str, float]) -> dict[str, float]:
    """Return the mean clipped z-score per rated area, where enough measures are present."""
    scores = {}
    for area, measured in RATED_AREAS.items():
        values = [max(-Z_CLIP, min(Z_CLIP, z)) for key, z in outcomes.items() if measured(key)]
        if len(values) >= MIN_MEASURES:
            scores[f"area:{area}"] = fmean(values)
    return scores


def _ratings(
    council: Council, area_scores: dict[str, float], standings: Standings
) -> dict[str, int]:
    ratings = {}
    grade = latest_graded(ofsted_history(council))
    if grade is not None:
        ratings["childrens_services"] = OFSTED_RATINGS[grade.overall]
    for key, score in area_scores.items():
        ratings[key.removeprefix("area:")] = 1 + min(4, int(5 * standings.share_below(key, score)))
    delivered = areas_delivered_by(council.council_type)
    return {area: rating for area, rating in ratings.items() if area in delivered}


def latest_graded(history: list[OfstedJudgement]) -> OfstedJudgement | None:
    """Return the newest inspection with an overall grade, if any."""
    return next((j for j in history if j.overall in OFSTED_RATINGS), None)


def _year(judgement: OfstedJudgement) -> str:
    return (judgement.published or "")[:4] or "date unknown"


def ofsted_lines(history: list[OfstedJudgement]) -> tuple[list[str], list[str]]:
    """Return (strengths, needs) from the latest overall grade and the newest sub-judgements."""
    strengths: list[str] = []
    needs: list[str] = []
    graded = latest_graded(history)
    if graded is not None:
        line = f"Rated {graded.overall} by Ofsted ({_year(graded)})"
        (strengths if OFSTED_RATINGS[graded.overall] >= STRONG_MIN else needs).append(line)
    newest = history[0] if history else None
    for attribute, name in SUB_JUDGEMENTS.items():
        grade = getattr(newest, attribute, None)
        line = f"Ofsted ({_year(newest)}): {name} judged {grade}" if grade else ""
        if grade == "outstanding":
            strengths.append(line)
        elif grade in ("requires improvement", "inadequate"):
            needs.append(line)
    return strengths, needs


def _quartile_lines(
    outcomes: dict[str, float], standings: Standings
) -> tuple[list[str], list[str]]:
    """Return (top quartile, bottom quartile) lines for the named measures a council has."""
    top: list[str] = []
    bottom: list[str] = []
    for key, label in TEXT_MEASURES.items():
        if key not in outcomes:
            continue
        good, bad = ("lowest", "highest") if key in LOWER_IS_BETTER else ("top", "bottom")
        if standings.share_below(key, outcomes[key]) >= 0.75:
            top.append(f"{label}: {good} quartile nationally")
        elif standings.share_above(key, outcomes[key]) >= 0.75:
            bottom.append(f"{label}: {bad} quartile nationally")
    return top, bottom


def _store(session: Session, profile: Profile | None, demo: DemoProfile) -> bool:
    """Create the profile, or give it a new version if its fields changed; say if anything did."""
    if profile is None:
        profile = Profile(
            id=demo.id, kind=demo.kind, gss_code=demo.gss_code, version=1,
            fields=demo.fields, contact_email=demo.fields["contact_email"],
            token_hash=hash_token(secrets.token_urlsafe(32)), approved=True, demo=True,
        )
        session.add(profile)
    elif profile.fields == demo.fields:
        return False
    else:
        profile.fields = demo.fields
        profile.contact_email = demo.fields["contact_email"]
        profile.version += 1
        profile.updated_at = utcnow()
    session.add(ProfileVersion(profile_id=demo.id, version=profile.version, fields=demo.fields))
    return True
