"""Answers to "Was this useful?" from the recommendation email, kept for operations staff."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import Feedback, MatchRun, utcnow


def record_feedback(session: Session, match_run_id: str, partner_id: str, useful: bool) -> bool:
    """Record one answer about one recommended partner; a later answer replaces an earlier one.

    False when the run or the recommendation no longer exists (the profile was erased).
    """
    run = session.get(MatchRun, match_run_id)
    if run is None or all(r.partner_profile_id != partner_id for r in run.recommendations):
        return False
    answer = session.scalar(select(Feedback).where(
        Feedback.match_run_id == match_run_id, Feedback.partner_profile_id == partner_id))
    if answer is None:
        answer = Feedback(match_run_id=match_run_id, partner_profile_id=partner_id, useful=useful)
        session.add(answer)
    answer.useful = useful
    answer.created_at = utcnow()
    return True
