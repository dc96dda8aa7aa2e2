"""Checkable evidence of a council's strength, from public data, per service area."""

from __future__ import annotations

from shared.models import Council
from shared.records import OfstedJudgement
from shared.register import ofsted_history

GRADE_ORDER = ("inadequate", "requires improvement", "good", "outstanding")


def evidence_for(council: Council) -> dict[str, tuple[str, ...]]:
    """Return plain-English facts a person can check, keyed by service area."""
    evidence: dict[str, tuple[str, ...]] = {}
    children = _ofsted_evidence(ofsted_history(council))
    if children:
        evidence["childrens_services"] = children
    adults = _adult_social_care_evidence(council.outcomes)
    if adults:
        evidence["adult_social_care"] = adults
    return evidence


def _year(judgement: OfstedJudgement) -> str:
    return (judgement.published or "")[:4] or "date unknown"


def _ofsted_evidence(history: list[OfstedJudgement]) -> tuple[str, ...]:
    graded = [j for j in history if j.overall in GRADE_ORDER]
    if not graded:
        return ()
    latest = graded[0]
    facts = [f"Rated {latest.overall} by Ofsted ({_year(latest)})"]
    worst = min(graded[1:], key=lambda j: GRADE_ORDER.index(j.overall), default=None)
    if worst is not None and GRADE_ORDER.index(worst.overall) < GRADE_ORDER.index(latest.overall):
        facts.append(
            f"Improved from {worst.overall} ({_year(worst)}) to {latest.overall} ({_year(latest)})"
            " – has made the journey others are making"
        )
    return tuple(facts)


def _adult_social_care_evidence(outcomes: dict[str, float]) -> tuple[str, ...]:
    scores = [v for k, v in outcomes.items() if k.startswith("asc:")]
    if len(scores) < 3:
        return ()
    above = sum(1 for v in scores if v > 0)
    return (f"Above the England median on {above} of {len(scores)} adult social care measures",)
