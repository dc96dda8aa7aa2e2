"""Reading match results back: each need the council asked about, weakest first, its partners
best first and as they stand now (a rejected address dropped, an unverified one labelled)."""

from __future__ import annotations

import pytest

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import MatchRun, Profile
from partnermatch.shared.profiles.store import update_profile
from partnermatch.shared.recommendations.runs import (
    asked_needs,
    best_of,
    latest_run,
    needs_of,
    top_needs,
)
from partnermatch.shared.reference.addresses import UNVERIFIED_REASON
from partnermatch.shared.reference.records import NeedMatches
from tests.shared.examples import BRADFORD, council, partner, recommend, supplier

KIRKLEES = "E08000034"


@pytest.fixture
def leeds_matched(sessions) -> dict[str, str]:
    """Leeds struggles with children's services (1) and adult social care (2). Bradford, a
    supplier and Kirklees (an address nobody has checked) were recommended for children's
    services; nobody was strong in adult social care yet."""
    with transaction(sessions) as session:
        leeds = council(session)
        bradford = council(session, BRADFORD, "jo.lead@bradford.gov.uk", {"childrens_services": 5})
        care = supplier(session)
        kirklees = council(session, KIRKLEES, "kim@gmail.com", {"childrens_services": 4})
        run = recommend(session, leeds, NeedMatches("childrens_services", 1, (
            partner(bradford, "Bradford", 5, 0.81), partner(care, "Example Care Ltd", 4, 0.64),
            partner(kirklees, "Kirklees", 4, 0.52))))
        return {"leeds": leeds.id, "bradford": bradford.id, "care": care.id,
                "kirklees": kirklees.id, "run": run.id}


def read(sessions, ids, reader, *args):
    with sessions() as session:
        return reader(session, session.get(MatchRun, ids["run"]), *args)


def names(need: NeedMatches) -> list[str]:
    return [p.name for p in need.partners]


def test_every_need_asked_about_is_listed_weakest_first_even_with_no_partner(sessions,
                                                                               leeds_matched):
    needs = read(sessions, leeds_matched, needs_of)
    assert [(n.service_area, n.rating) for n in needs] == [
        ("childrens_services", 1), ("adult_social_care", 2)]
    assert names(needs[0]) == ["Bradford", "Example Care Ltd", "Kirklees"]
    assert needs[1].partners == ()


def test_an_unverified_partner_is_labelled_when_read_and_a_rejected_one_dropped(
        sessions, leeds_matched):
    kirklees = read(sessions, leeds_matched, needs_of)[0].partners[2]
    assert kirklees.reasons == (UNVERIFIED_REASON, "Rates itself 4 out of 5")
    with transaction(sessions) as session:
        session.get(Profile, leeds_matched["kirklees"]).address_status = "rejected"
    assert names(read(sessions, leeds_matched, needs_of)[0]) == ["Bradford", "Example Care Ltd"]


def test_the_top_of_each_need_is_read_alone(sessions, leeds_matched):
    needs = read(sessions, leeds_matched, top_needs, 2)
    assert [names(n) for n in needs] == [["Bradford", "Example Care Ltd"], []]
    assert [names(n) for n in read(sessions, leeds_matched, needs_of, 1)] == [["Bradford"], []]


def test_the_needs_asked_are_those_of_the_matched_version_not_the_latest(sessions, leeds_matched):
    with transaction(sessions) as session:
        leeds = session.get(Profile, leeds_matched["leeds"])
        assert latest_run(session, leeds).id == leeds_matched["run"]
        update_profile(session, leeds, {**leeds.fields, "kind": "council", "gss_code": "E08000035",
                                        "contact_email": leeds.contact_email,
                                        "ratings": {"housing": 1}})
    with sessions() as session:
        assert latest_run(session, session.get(Profile, leeds_matched["leeds"])) is None
    assert read(sessions, leeds_matched, asked_needs) == [
        ("childrens_services", 1), ("adult_social_care", 2)]


def test_the_best_of_a_fresh_ranking_reads_as_the_stored_one_would(sessions, leeds_matched):
    with sessions() as session:
        bradford = session.get(Profile, leeds_matched["bradford"])
        care = session.get(Profile, leeds_matched["care"])
    ranking = [NeedMatches("adult_social_care", 2, (partner(care, "Example Care Ltd", 5, 0.7),)),
               NeedMatches("childrens_services", 1, (partner(bradford, "Bradford", 5, 0.81),
                                                     partner(care, "Example Care Ltd", 4, 0.64)))]
    best = best_of(ranking, 1)
    assert [(n.service_area, names(n)) for n in best] == [
        ("childrens_services", ["Bradford"]), ("adult_social_care", ["Example Care Ltd"])]
