"""A worker's index, built once from the database and brought up to date as profiles change."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Council, Profile
from partnermatch.shared.profiles.demo import demo_id, seed_demo
from partnermatch.shared.profiles.store import create_profile, erase_profile, update_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.consume import store_run
from partnermatch.shared.recommendations.live_index import (
    CandidateIndex,
    candidate_from,
    request_from,
)
from partnermatch.shared.reference.evidence import recent_improvement
from partnermatch.shared.reference.records import OfstedJudgement

LEEDS, MANCHESTER, BRADFORD = "E08000035", "E08000003", "E08000032"


def council_fields(gss, ratings, **overrides):
    fields = {
        "kind": "council", "gss_code": gss, "contact_name": "Sam Officer",
        "contact_email": "sam@example.gov.uk", "ratings": ratings, "needs_text": "",
        "strengths_text": "", "seeking": ["council", "supplier"],
        "capacity_to_support": "available", "share_contact": True,
    }
    fields.update(overrides)
    return fields


def partner_ids(index, session, profile_id, area, limit=10):
    request = request_from(session.get(Profile, profile_id))
    needs = {n.service_area: n for n in index.index.match(request, limit)}
    return [p.profile_id for p in needs[area].partners]


def test_new_updated_and_deleted_profiles_reach_the_index_without_a_rebuild(sessions):
    with transaction(sessions) as session:
        asker, _ = create_profile(session, council_fields(LEEDS, {"waste": 1}))
        asker_id = asker.id
    with sessions() as session:
        index = CandidateIndex(session)
        assert partner_ids(index, session, asker_id, "waste") == []
    with transaction(sessions) as session:
        helper, _ = create_profile(session, council_fields(MANCHESTER, {"waste": 5}))
        confirm_address(session, helper.contact_email)  # only confirmed profiles take part
        helper_id = helper.id
    with sessions() as session:
        assert index.refresh(session) == 2  # both share the address: both became candidates
        assert partner_ids(index, session, asker_id, "waste") == [helper_id]
    with transaction(sessions) as session:
        update_profile(session, session.get(Profile, helper_id),
                       council_fields(MANCHESTER, {"waste": 3}))
    with sessions() as session:
        assert index.refresh(session) == 1
        assert partner_ids(index, session, asker_id, "waste") == []
    with transaction(sessions) as session:
        erase_profile(session, session.get(Profile, helper_id))
    with sessions() as session:
        index.refresh(session)
        assert helper_id not in index.index


def test_demo_profiles_say_their_ratings_come_from_public_data_or_fiction(sessions):
    with transaction(sessions) as session:
        seed_demo(session)
    with sessions() as session:
        council = candidate_from(session.get(Profile, demo_id(f"council:{LEEDS}")))
        supplier = candidate_from(
            session.get(Profile, demo_id("supplier:example-care-partnerships")))
        own, _ = create_profile(session, council_fields(LEEDS, {"waste": 4}))
        assert candidate_from(own).rating_source == "self"
    assert council.rating_source == "public_data"
    assert supplier.rating_source == "fictional"


def test_a_council_that_joined_replaces_its_equally_strong_public_data_profile(sessions):
    with transaction(sessions) as session:
        seed_demo(session)
        public = session.get(Profile, demo_id(f"council:{MANCHESTER}"))
        strong = {area: r for area, r in public.fields["ratings"].items() if r >= 4}
        assert strong, "Manchester's demo profile is strong somewhere"
        area = next(iter(strong))
        joined, _ = create_profile(session, council_fields(
            MANCHESTER, {area: strong[area]}, capacity_to_support="limited"))
        confirm_address(session, joined.contact_email)  # only confirmed profiles take part
        asker, _ = create_profile(session, council_fields(LEEDS, {area: 1}))
        public_id, joined_id, asker_id = public.id, joined.id, asker.id
    with sessions() as session:
        index = CandidateIndex(session)
        # Every partner, not the first ten: how near Manchester ranks for Leeds is not the point
        found = partner_ids(index, session, asker_id, area, limit=1000)
        assert joined_id in found and public_id not in found  # one per council: the better
        assert candidate_from(session.get(Profile, public_id)).capacity_to_support == "unknown"


def test_councils_that_recently_improved_in_childrens_services_are_marked(sessions):
    with sessions() as session:
        councils = session.scalars(select(Council).where(Council.dfe_la_number.is_not(None)))
        for council in councils:
            create_profile(session, council_fields(council.gss_code, {"waste": 4}))
        session.flush()
        marked = {c.gss_code: c.improved for c in map(candidate_from, session.scalars(
            select(Profile)))}
        history = {c.gss_code: c.ofsted for c in session.scalars(select(Council))}
    improved = {gss for gss, areas in marked.items() if areas == ("childrens_services",)}
    assert improved, "some councils went from inadequate or requires improvement to good"
    for gss in improved:
        latest, before, *_ = [j["overall"] for j in history[gss] if j["overall"]]
        assert latest in ("good", "outstanding")
        assert before in ("inadequate", "requires improvement")


def judgement(overall, published):
    return OfstedJudgement(overall=overall, published=published)


@pytest.mark.parametrize(("history", "improved"), [
    ([judgement("good", "2023-05-01"), judgement("inadequate", "2019-02-01")], True),
    ([judgement("outstanding", "2024-01-01"), judgement("requires improvement", "2020-01-01")],
     True),
    ([judgement("good", "2023-05-01"), judgement("good", "2019-02-01"),
      judgement("inadequate", "2016-01-01")], False),  # long ago: not recent
    ([judgement(None, "2026-05-01"), judgement("good", "2023-05-01"),
      judgement("inadequate", "2019-02-01")], True),  # an ungraded inspection is skipped
    ([judgement("requires improvement", "2023-05-01"), judgement("inadequate", "2019-01-01")],
     False),
    ([judgement("good", "2023-05-01")], False),
])
def test_recent_improvement_is_from_weak_to_strong_at_the_last_two_graded_inspections(
        history, improved):
    assert (recent_improvement(history) is not None) is improved


def test_a_refresh_reads_whole_rows_only_for_profiles_it_has_not_indexed(sessions):
    with transaction(sessions) as session:
        for gss in (LEEDS, MANCHESTER):
            create_profile(session, council_fields(gss, {"waste": 5}))
    with sessions() as session:
        index = CandidateIndex(session)
    statements: list[str] = []
    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _k, statement, *_rest: statements.append(statement))
    with sessions() as session:  # both profiles are inside the overlap, and already indexed
        assert index.refresh(session) == 0
    assert not [s for s in statements if "profiles.fields" in s]
    with transaction(sessions) as session:
        create_profile(session, council_fields(LEEDS, {"waste": 4}))
    with sessions() as session:
        assert index.refresh(session) == 1
    assert len([s for s in statements if "profiles.fields" in s]) == 1


def test_a_catch_up_counts_each_recommendation_stored_since_once_in_one_statement(sessions):
    with transaction(sessions) as session:
        askers = [create_profile(session, council_fields(gss, {"waste": 1}))[0].id
                  for gss in (LEEDS, BRADFORD)]
        helper, _ = create_profile(session, council_fields(MANCHESTER, {"waste": 5}))
        confirm_address(session, helper.contact_email)
        helper_id = helper.id
    with sessions() as session:
        index = CandidateIndex(session)
    assert index.index.recommended_counts() == {}
    statements: list[str] = []
    event.listen(sessions.kw["bind"], "before_cursor_execute",
                 lambda _c, _k, statement, *_rest: statements.append(statement))
    for stored, asker_id in enumerate(askers, start=1):
        with transaction(sessions) as session:
            asker = session.get(Profile, asker_id)
            needs = index.index.match(request_from(asker), limit=5)
            assert [p.profile_id for n in needs for p in n.partners] == [helper_id]
            store_run(session, asker, needs, None)
        with sessions() as session:
            statements.clear()
            assert index.refresh(session) == 0  # nothing changed but the count
            assert len([s for s in statements if s.startswith("SELECT")]) == 1
        assert index.index.recommended_counts() == {helper_id: stored}
    with sessions() as session:
        index.refresh(session)  # counted once: read again inside the overlap, skipped
    assert index.index.recommended_counts() == {helper_id: 2}
