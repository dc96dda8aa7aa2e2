"""Evidence of a council's strength that a person can check: its Ofsted grades, the journey from
a weak grade to a strong one, and how its adult social care measures compare with England's."""

from __future__ import annotations

from dataclasses import asdict

from partnermatch.shared.db.models import Council
from partnermatch.shared.reference.evidence import (
    evidence_for,
    improved_areas,
    ofsted_evidence,
    recent_improvement,
)
from partnermatch.shared.reference.records import OfstedJudgement

GOOD_2024 = OfstedJudgement(overall="good", published="2024-03-08")
INADEQUATE_2019 = OfstedJudgement(overall="inadequate", published="2019-11-20")
OUTSTANDING_2018 = OfstedJudgement(overall="outstanding", published="2018-02-01")
FOCUSED_VISIT = OfstedJudgement(overall=None, published="2022-06-01")  # no overall grade


def council(*inspections: OfstedJudgement, outcomes: dict[str, float] | None = None) -> Council:
    return Council(gss_code="E08000032", name="Bradford", ofsted=[asdict(j) for j in inspections],
                   outcomes=outcomes or {})


def test_the_latest_grade_is_given_with_its_year():
    assert ofsted_evidence([OUTSTANDING_2018]) == ("Rated outstanding by Ofsted (2018)",)
    assert ofsted_evidence([OfstedJudgement(overall="good", published=None)]) == (
        "Rated good by Ofsted (date unknown)",)
    assert ofsted_evidence([FOCUSED_VISIT]) == ()


def test_a_strong_grade_after_a_weak_one_is_the_journey_others_are_making():
    history = [GOOD_2024, FOCUSED_VISIT, INADEQUATE_2019]  # newest first; ungraded visits skipped
    assert recent_improvement(history) == (INADEQUATE_2019, GOOD_2024)
    assert ofsted_evidence(history) == (
        "Rated good by Ofsted (2024)",
        "Improved from inadequate (2019) to good (2024) – has made the journey others are making")
    assert improved_areas(council(*history)) == ("childrens_services",)


def test_staying_strong_or_falling_back_is_no_improvement():
    assert recent_improvement([GOOD_2024, OUTSTANDING_2018]) is None
    assert recent_improvement([INADEQUATE_2019, OUTSTANDING_2018]) is None
    assert recent_improvement([GOOD_2024]) is None
    assert improved_areas(council(GOOD_2024, OUTSTANDING_2018)) == ()


def test_adult_social_care_is_compared_with_england_on_three_measures_or_more():
    three = {"asc:satisfaction": 0.4, "asc:reablement": -0.2, "asc:quality_of_life": 1.1,
             "children:attainment": 2.0}
    assert evidence_for(council(outcomes=three)) == {"adult_social_care": (
        "Above the England median on 2 of 3 adult social care measures",)}
    two = {"asc:satisfaction": 0.4, "asc:reablement": 0.9}
    assert evidence_for(council(outcomes=two)) == {}


def test_evidence_is_keyed_by_the_service_area_it_speaks_for():
    evidence = evidence_for(council(GOOD_2024, INADEQUATE_2019,
                                    outcomes={"asc:a": 1.0, "asc:b": 1.0, "asc:c": -1.0}))
    assert sorted(evidence) == ["adult_social_care", "childrens_services"]
    assert evidence["childrens_services"][0] == "Rated good by Ofsted (2024)"
