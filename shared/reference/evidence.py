"""Checkable evidence of a council's strength, from public data, per service area.

Trajectory counts: a council whose last Ofsted inspection was good or outstanding after one that
was inadequate or requires improvement has recently made the journey a struggling council faces,
so it is marked as improved in children's services (a bonus in the ranking) and the evidence says
from what, to what, and when.
"""

from __future__ import annotations

from collections.abc import Sequence

from partnermatch.shared.db.models import Council
from partnermatch.shared.reference.records import OfstedJudgement
from partnermatch.shared.reference.register import ofsted_history

GRADE_ORDER = ("inadequate", "requires improvement", "good", "outstanding")
WEAK_GRADES = frozenset(GRADE_ORDER[:2])
STRONG_GRADES = frozenset(GRADE_ORDER[2:])


def evidence_for(council: Council) -> dict[str, tuple[str, ...]]:
    """Return plain-English facts a person can check, keyed by service area."""
    evidence: dict[str, tuple[str, ...]] = {}
    children = ofsted_evidence(ofsted_history(council))
    if children:
        evidence["childrens_services"] = children
    adults = _adult_social_care_evidence(council.outcomes)
    if adults:
        evidence["adult_social_care"] = adults
    return evidence


def improved_areas(council: Council) -> tuple[str, ...]:
    """Return the areas where a council recently improved from weak to strong."""
    return ("childrens_services",) if recent_improvement(ofsted_history(council)) else ()


def _graded(history: Sequence[OfstedJudgement]) -> list[OfstedJudgement]:
    return [j for j in history if j.overall in GRADE_ORDER]


def recent_improvement(history: Sequence[OfstedJudgement],
                       ) -> tuple[OfstedJudgement, OfstedJudgement] | None:
    """Return (before, after) if the last graded inspection was strong and the one before weak.

    ``history`` is newest first, as the register keeps it.
    """
    graded = _graded(history)
    if len(graded) < 2:
        return None
    latest, before = graded[0], graded[1]
    if latest.overall in STRONG_GRADES and before.overall in WEAK_GRADES:
        return before, latest
    return None


def _year(judgement: OfstedJudgement) -> str:
    return (judgement.published or "")[:4] or "date unknown"


def ofsted_evidence(history: Sequence[OfstedJudgement]) -> tuple[str, ...]:
    """Return the latest Ofsted grade and, if it is recent, the improvement that led to it."""
    graded = _graded(history)
    if not graded:
        return ()
    latest = graded[0]
    facts = [f"Rated {latest.overall} by Ofsted ({_year(latest)})"]
    improvement = recent_improvement(history)
    if improvement is not None:
        before, after = improvement
        facts.append(
            f"Improved from {before.overall} ({_year(before)}) to {after.overall} "
            f"({_year(after)}) – has made the journey others are making"
        )
    return tuple(facts)


def _adult_social_care_evidence(outcomes: dict[str, float]) -> tuple[str, ...]:
    scores = [v for k, v in outcomes.items() if k.startswith("asc:")]
    if len(scores) < 3:
        return ()
    above = sum(1 for v in scores if v > 0)
    return (f"Above the England median on {above} of {len(scores)} adult social care measures",)
