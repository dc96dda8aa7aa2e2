"""Answers to "Was this useful?": one per recommended partner, the latest answer kept."""

from __future__ import annotations

from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Feedback
from partnermatch.shared.recommendations.feedback import record_feedback
from partnermatch.shared.reference.records import NeedMatches
from tests.shared.examples import BRADFORD, council, partner, recommend, supplier


def leeds_recommended_bradford_and_a_supplier(sessions) -> tuple[str, str, str]:
    with transaction(sessions) as session:
        leeds = council(session)
        bradford = council(session, BRADFORD, "jo.lead@bradford.gov.uk",
                           {"childrens_services": 5})
        care = supplier(session)
        run = recommend(session, leeds, NeedMatches("childrens_services", 1, (
            partner(bradford, "Bradford", 5, 0.81), partner(care, "Example Care Ltd", 4, 0.64))))
        return run.id, bradford.id, care.id


def answers(sessions) -> list[tuple[str, bool]]:
    with sessions() as session:
        return sorted(session.execute(select(Feedback.partner_profile_id, Feedback.useful)).all())


def test_an_answer_about_a_recommended_partner_is_kept(sessions):
    run_id, bradford, care = leeds_recommended_bradford_and_a_supplier(sessions)
    with transaction(sessions) as session:
        assert record_feedback(session, run_id, bradford, useful=True)
        assert record_feedback(session, run_id, care, useful=False)
    assert answers(sessions) == sorted([(bradford, True), (care, False)])


def test_a_change_of_mind_replaces_the_earlier_answer(sessions):
    run_id, bradford, _care = leeds_recommended_bradford_and_a_supplier(sessions)
    with transaction(sessions) as session:
        record_feedback(session, run_id, bradford, useful=True)
    with transaction(sessions) as session:
        assert record_feedback(session, run_id, bradford, useful=False)
    assert answers(sessions) == [(bradford, False)]


def test_an_answer_about_a_run_or_partner_that_is_not_there_is_refused(sessions):
    run_id, bradford, _care = leeds_recommended_bradford_and_a_supplier(sessions)
    with transaction(sessions) as session:
        assert not record_feedback(session, "no-such-run", bradford, useful=True)
        assert not record_feedback(session, run_id, "a-partner-never-recommended", useful=True)
    assert answers(sessions) == []
