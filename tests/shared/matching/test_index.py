"""Recommending partners strong where a council is weak and alike in circumstances."""

import numpy as np
import pytest

from partnermatch.shared.matching.context import ContextModel
from partnermatch.shared.matching.index import MODEL_VERSION, MatchIndex
from partnermatch.shared.matching.reasons import NOT_JOINED
from partnermatch.shared.reference.records import Candidate, MatchRequest, Place
from partnermatch.shared.reference.taxonomy import delivers


def place(gss, council_type="UA", **overrides):
    """Build a place: a deprived urban council in the North West unless told otherwise."""
    fields = {
        "region": "North West", "population": 300_000, "area_km2": 100.0, "density": 3000.0,
        "imd_score": 35.0, "imd_quintile": 1, "rurality": "Urban", "lat": 53.5, "lon": -2.3,
    }
    fields.update(overrides)
    return Place(gss_code=gss, name=gss, council_type=council_type, **fields)


PLACES = [
    place("HOME"),
    place("TWIN", population=320_000, imd_score=33.0, lat=53.6, lon=-2.5),
    place("TWIN2", population=320_000, imd_score=33.0, lat=53.6, lon=-2.5),
    place("FAR", region="South East", population=900_000, area_km2=3000.0, density=300.0,
          imd_score=10.0, imd_quintile=5, rurality="Sparse and rural", lat=51.2, lon=0.6),
    place("DISTRICT", "NMD", population=110_000, area_km2=400.0, density=275.0,
          rurality="Urban with rural areas", lat=53.7, lon=-2.6),
    place("COUNTY", "CTY", region="East Midlands", population=800_000, area_km2=2500.0,
          density=320.0, imd_score=18.0, imd_quintile=4, rurality="Largely rural", lat=52.9,
          lon=-1.2),
    *[place(f"OTHER{i}", population=150_000 + 70_000 * i, imd_score=12.0 + 3 * i,
            imd_quintile=1 + i % 5, lat=51.0 + 0.2 * i, lon=-3.0 + 0.2 * i) for i in range(10)],
]


def council(profile_id, gss, ratings, **overrides):
    """Build a council profile of the type its place has."""
    council_type = next((p.council_type for p in PLACES if p.gss_code == gss), "UA")
    fields = {"name": f"{gss} council", "council_type": council_type, "gss_code": gss}
    fields.update(overrides)
    return Candidate(profile_id=profile_id, kind="council", ratings=ratings, **fields)


def supplier(profile_id, ratings, **overrides):
    fields = {"name": f"Supplier {profile_id}"}
    fields.update(overrides)
    return Candidate(profile_id=profile_id, kind="supplier", ratings=ratings, **fields)


def request(ratings, **overrides):
    fields = {"profile_id": "home", "kind": "council", "gss_code": "HOME", "council_type": "UA",
              "region": "North West"}
    fields.update(overrides)
    return MatchRequest(ratings=ratings, **fields)


@pytest.fixture(scope="module")
def context():
    return ContextModel.fit(PLACES)


@pytest.fixture
def index(context):
    return MatchIndex(context)


def partners(index, req, area, limit=10):
    """Return the partners for one need."""
    return next(n.partners for n in index.match(req, limit) if n.service_area == area)


def ids(index, req, area, limit=10):
    return [p.profile_id for p in partners(index, req, area, limit)]


def test_model_version_is_named():
    assert MODEL_VERSION == "context-census-7"


def test_strong_similar_council_ranks_above_strong_dissimilar_one(index):
    index.upsert(council("far", "FAR", {"waste": 5}))
    index.upsert(council("twin", "TWIN", {"waste": 5}))
    assert ids(index, request({"waste": 1}), "waste") == ["twin", "far"]


def test_stronger_council_ranks_above_weaker_one_at_equal_context(index):
    index.upsert(council("good", "TWIN", {"housing": 4}, name="Aardvark"))
    index.upsert(council("best", "TWIN2", {"housing": 5}, name="Zebra"))
    found = partners(index, request({"housing": 2}), "housing")
    assert [p.profile_id for p in found] == ["best", "good"]
    assert found[0].score == pytest.approx(2 * found[1].score, abs=2e-6)


def test_district_is_never_recommended_for_adult_social_care(index):
    index.upsert(council("district", "DISTRICT", {"adult_social_care": 5,
                                                  "childrens_services": 5}))
    index.upsert(council("twin", "TWIN", {"adult_social_care": 4, "childrens_services": 4}))
    req = request({"adult_social_care": 1, "childrens_services": 1})
    assert ids(index, req, "adult_social_care") == ["twin"]
    assert ids(index, req, "childrens_services") == ["twin"]


def test_district_strong_in_waste_is_recommended_to_unitary_struggling_with_waste(index):
    index.upsert(council("district", "DISTRICT", {"waste": 5}))
    assert ids(index, request({"waste": 2}), "waste") == ["district"]


def test_district_has_no_need_for_services_its_tier_does_not_run(index):
    index.upsert(council("twin", "TWIN", {"adult_social_care": 5, "waste": 5}))
    req = request({"adult_social_care": 1, "waste": 1}, gss_code="DISTRICT",
                  council_type="NMD", profile_id="district")
    assert [n.service_area for n in index.match(req)] == ["waste"]


def test_each_council_appears_once_per_need_when_it_has_two_profiles(index):
    index.upsert(council("twin-a", "TWIN", {"waste": 4}))
    index.upsert(council("twin-b", "TWIN", {"waste": 5}))
    index.upsert(council("far", "FAR", {"waste": 5}))
    assert ids(index, request({"waste": 1}), "waste") == ["twin-b", "far"]


def test_collapsing_councils_still_fills_the_limit(index):
    for i in range(40):
        index.upsert(council(f"twin-{i:02d}", "TWIN", {"waste": 5}))
    index.upsert(council("far", "FAR", {"waste": 4}))
    assert ids(index, request({"waste": 1}), "waste", limit=2) == ["twin-00", "far"]


def test_requester_is_never_its_own_partner(index):
    index.upsert(council("home", "HOME", {"waste": 5}))  # a stale version of the requester
    index.upsert(council("home-waste-team", "HOME", {"waste": 5}))
    index.upsert(council("twin", "TWIN", {"waste": 4}))
    assert ids(index, request({"waste": 1}), "waste") == ["twin"]


def test_suppliers_are_recommended_only_when_approved_and_sought(index):
    index.upsert(supplier("approved", {"waste": 5}))
    index.upsert(supplier("pending", {"waste": 5}, approved=False))
    index.upsert(council("twin", "TWIN", {"waste": 5}))
    assert set(ids(index, request({"waste": 1}), "waste")) == {"approved", "twin"}
    assert ids(index, request({"waste": 1}, seeking=("council",)), "waste") == ["twin"]
    assert ids(index, request({"waste": 1}, seeking=("supplier",)), "waste") == ["approved"]


def test_supplier_working_elsewhere_scores_lower(index):
    index.upsert(supplier("local", {"waste": 5}, regions_served=("North West",)))
    index.upsert(supplier("distant", {"waste": 5}, regions_served=("London",)))
    found = partners(index, request({"waste": 1}), "waste")
    assert [p.profile_id for p in found] == ["local", "distant"]
    assert found[1].score == pytest.approx(0.6 * found[0].score, abs=2e-6)
    assert "Works in North West" in found[0].reasons


def test_every_partner_has_checkable_reasons(index):
    evidence = ("Rated outstanding by Ofsted (2024)",)
    by_area = {"childrens_services": evidence}
    index.upsert(council("twin", "TWIN", {"childrens_services": 5}, evidence=by_area))
    index.upsert(supplier("s", {"childrens_services": 4}))
    found = partners(index, request({"childrens_services": 1}), "childrens_services")
    assert all(p.reasons for p in found)
    twin = next(p for p in found if p.profile_id == "twin")
    assert twin.reasons[:2] == ("Rates itself 5 out of 5 for Children's services", evidence[0])
    assert "Similar deprivation: both in the most deprived fifth" in twin.reasons
    # children's services weigh who lives there, not the type of council: no type reason, and
    # the block no test place has figures for is said to be taken as typical
    assert "Also a unitary authority" not in twin.reasons
    assert ("Child poverty not compared: no figures for TWIN, so it was taken as typical"
            in twin.reasons)
    assert "Has capacity to support other councils" in twin.reasons


def test_reciprocity_is_rewarded_and_explained(index):
    index.upsert(council("needs-us", "TWIN", {"housing": 5, "waste": 2}))
    index.upsert(council("self-sufficient", "TWIN2", {"housing": 5, "waste": 4}))
    found = partners(index, request({"housing": 1, "waste": 5}), "housing")
    assert [p.profile_id for p in found] == ["needs-us", "self-sufficient"]
    assert "You could help them with waste" in found[0].reasons
    assert not any(r.startswith("You could help") for r in found[1].reasons)


def test_no_reciprocity_for_a_service_the_partner_does_not_run(index):
    index.upsert(council("district", "DISTRICT", {"housing": 5, "adult_social_care": 1}))
    found = partners(index, request({"housing": 1, "adult_social_care": 5}), "housing")
    assert not any(r.startswith("You could help") for r in found[0].reasons)


def test_capacity_limits_and_excludes(index):
    index.upsert(council("limited", "TWIN", {"waste": 5}, capacity_to_support="limited"))
    index.upsert(council("available", "TWIN2", {"waste": 5}))
    index.upsert(council("busy", "OTHER1", {"waste": 5}, capacity_to_support="none"))
    found = partners(index, request({"waste": 1}), "waste")
    assert [p.profile_id for p in found] == ["available", "limited"]
    assert found[1].score == pytest.approx(0.8 * found[0].score, abs=2e-6)


def test_relevant_words_nudge_the_ranking_without_excluding(index):
    index.upsert(council("alpha", "TWIN", {"waste": 5}, name="Alpha",
                         strengths_text="Kerbside recycling rounds and food waste collection"))
    index.upsert(council("beta", "TWIN2", {"waste": 5}, name="Beta",
                         strengths_text="Procurement of street lighting"))
    assert ids(index, request({"waste": 1}), "waste") == ["alpha", "beta"]
    req = request({"waste": 1}, needs_text="Our street lighting procurement has stalled")
    assert ids(index, req, "waste") == ["beta", "alpha"]


def test_needs_are_listed_weakest_first(index):
    index.upsert(council("twin", "TWIN", {"waste": 5, "housing": 5, "planning": 5}))
    needs = index.match(request({"planning": 2, "waste": 1, "housing": 3, "culture_leisure": 2}))
    assert [(n.service_area, n.rating) for n in needs] == [
        ("waste", 1), ("planning", 2), ("culture_leisure", 2)]
    assert needs[2].partners == ()


def test_ties_are_broken_by_name_then_profile_id(index):
    index.upsert(council("b2", "TWIN", {"waste": 5}, name="Bravo"))
    index.upsert(council("a1", "TWIN2", {"waste": 5}, name="Alpha"))
    index.upsert(supplier("s2", {"waste": 5}, name="Same"))
    index.upsert(supplier("s1", {"waste": 5}, name="Same"))
    assert ids(index, request({"waste": 1}), "waste") == ["a1", "b2", "s1", "s2"]


def test_recommending_a_council_often_spreads_the_load_only_among_near_equals(index):
    index.upsert(council("alpha", "TWIN", {"waste": 5}, name="Alpha"))
    index.upsert(council("beta", "TWIN2", {"waste": 5}, name="Beta"))
    index.upsert(council("weaker", "OTHER1", {"waste": 4}, name="Weaker"))
    assert ids(index, request({"waste": 1}), "waste") == ["alpha", "beta", "weaker"]
    before = partners(index, request({"waste": 1}), "waste")
    index.record_recommended(["alpha"])
    assert ids(index, request({"waste": 1}), "waste") == ["beta", "alpha", "weaker"]
    index.record_recommended(["alpha", "beta"] * 100)
    # far better partners are never put after a weaker one, however often they are recommended
    found = partners(index, request({"waste": 1}), "waste")
    assert [p.profile_id for p in found] == ["beta", "alpha", "weaker"]
    # and the scores themselves never change
    assert sorted(p.score for p in found) == sorted(p.score for p in before)


def test_the_load_is_spread_by_counts_set_from_outside_the_process(index):
    index.upsert(council("alpha", "TWIN", {"waste": 5}, name="Alpha"))
    index.upsert(council("beta", "TWIN2", {"waste": 5}, name="Beta"))
    index.set_recommended({"alpha": 3, "beta": 1})
    assert ids(index, request({"waste": 1}), "waste") == ["beta", "alpha"]
    index.set_recommended({"alpha": 1})
    assert index.recommended_counts() == {"alpha": 1}
    assert ids(index, request({"waste": 1}), "waste") == ["beta", "alpha"]
    index.add_recommended({"beta": 2})
    assert ids(index, request({"waste": 1}), "waste") == ["alpha", "beta"]


def test_a_council_asking_again_is_ranked_as_if_it_had_not_asked_before(index):
    index.upsert(council("alpha", "TWIN", {"waste": 5}, name="Alpha"))
    index.upsert(council("beta", "TWIN2", {"waste": 5}, name="Beta"))
    first = ids(index, request({"waste": 1}), "waste")
    index.record_recommended(first[:1], requester="HOME")
    # another profile of the same council (the form, then the API) gets the same list
    assert ids(index, request({"waste": 1}, profile_id="home-2"), "waste") == first
    # another council sees the load spread
    assert ids(index, request({"waste": 1}, gss_code="ELSE"), "waste") == first[::-1]
    index.set_recommended({"alpha": 2}, {("HOME", "alpha"): 1})
    assert ids(index, request({"waste": 1}), "waste") == ["beta", "alpha"]  # one from another


def test_removed_profiles_are_no_longer_recommended(index):
    index.upsert(council("twin", "TWIN", {"waste": 5}))
    index.upsert(council("far", "FAR", {"waste": 5}))
    index.remove("twin")
    index.remove("never-indexed")
    assert len(index) == 1
    assert "twin" not in index
    assert ids(index, request({"waste": 1}), "waste") == ["far"]


def test_upserting_an_updated_profile_changes_results(index):
    index.upsert(council("twin", "TWIN", {"waste": 5}))
    index.upsert(council("far", "FAR", {"waste": 4}))
    index.upsert(council("twin", "TWIN", {"waste": 3}))
    assert len(index) == 2
    assert ids(index, request({"waste": 1}), "waste") == ["far"]
    index.upsert(council("twin", "TWIN", {"waste": 5}))
    assert ids(index, request({"waste": 1}), "waste") == ["twin", "far"]


def test_many_updates_keep_the_index_correct(index):
    for version in range(3000):
        index.upsert(council("twin", "TWIN", {"waste": 4 + version % 2},
                             strengths_text=f"version {version}"))
    index.upsert(council("far", "FAR", {"waste": 5}))
    assert len(index) == 2
    found = partners(index, request({"waste": 1}, needs_text="version 2999"), "waste")
    assert [p.profile_id for p in found] == ["twin", "far"]
    assert found[0].strength_rating == 5


def test_supplier_requester_gets_councils_at_neutral_context(index):
    index.upsert(council("twin", "TWIN", {"waste": 5}))
    req = MatchRequest(profile_id="sup", kind="supplier", ratings={"waste": 1})
    found = partners(index, req, "waste")
    assert [p.profile_id for p in found] == ["twin"]
    assert found[0].score == pytest.approx(index.context.neutral("waste") * 0.75, abs=1e-6)


def test_council_score_is_strength_times_context_times_text(index, context):
    index.upsert(council("far", "FAR", {"waste": 4}))
    found = partners(index, request({"waste": 1}), "waste")
    expected = 0.5 * context.similarity("HOME", "FAR", "waste") * 0.75
    assert found[0].score == pytest.approx(expected, abs=1e-6)


def test_council_added_to_context_later_is_matched_on_circumstances():
    model = ContextModel.fit(PLACES)
    index = MatchIndex(model)
    index.upsert(council("new", "NEWCODE", {"waste": 5}))
    before = partners(index, request({"waste": 1}), "waste")[0].score
    model.upsert(place("NEWCODE"))
    after = partners(index, request({"waste": 1}), "waste")[0].score
    assert before == pytest.approx(model.neutral("waste") * 0.75, abs=1e-6)
    assert after == pytest.approx(1.0 * 0.75)


def test_council_that_recently_improved_ranks_higher_and_says_so(index):
    journey = ("Improved from inadequate (2019) to good (2023) – has made the journey others "
               "are making",)
    index.upsert(council("steady", "TWIN", {"childrens_services": 4}, name="Aardvark"))
    index.upsert(council("improved", "TWIN2", {"childrens_services": 4}, name="Zebra",
                         improved=("childrens_services",),
                         evidence={"childrens_services": journey}))
    found = partners(index, request({"childrens_services": 1}), "childrens_services")
    assert [p.profile_id for p in found] == ["improved", "steady"]
    assert found[0].score == pytest.approx(1.1 * found[1].score, abs=2e-6)
    assert journey[0] in found[0].reasons


def test_improvement_in_one_area_earns_no_bonus_in_another(index):
    index.upsert(council("steady", "TWIN", {"waste": 4}, name="Aardvark"))
    index.upsert(council("improved", "TWIN2", {"waste": 4}, name="Zebra",
                         improved=("childrens_services",)))
    found = partners(index, request({"waste": 1}), "waste")
    assert [p.profile_id for p in found] == ["steady", "improved"]
    assert found[0].score == pytest.approx(found[1].score)


@pytest.mark.parametrize(("source", "wording"), [
    ("self", "Rates itself 5 out of 5 for Waste"),
    ("public_data", "Rated 5 out of 5 for Waste from public data"),
    ("fictional", "Demo rating 5 out of 5 for Waste (fictional supplier)"),
])
def test_reasons_say_who_rated_the_partner(index, source, wording):
    index.upsert(council("twin", "TWIN", {"waste": 5}, rating_source=source))
    reasons = partners(index, request({"waste": 1}), "waste")[0].reasons
    assert [r for r in reasons if r != NOT_JOINED][0] == wording


def from_public_data(profile_id, gss, ratings, **overrides):
    """A council profile built from public data: it has not joined and never offered help."""
    return council(profile_id, gss, ratings, rating_source="public_data",
                   capacity_to_support="unknown", **overrides)


@pytest.mark.parametrize("capacity", ["available", "limited"])
def test_a_council_from_public_data_ranks_below_an_equally_strong_one_that_joined(index,
                                                                                   capacity):
    # TWIN and TWIN2 are the same place: equally strong, equally alike; names favour the first
    index.upsert(from_public_data("public", "TWIN", {"waste": 5}, name="Aardvark"))
    index.upsert(council("joined", "TWIN2", {"waste": 5}, name="Zebra",
                         capacity_to_support=capacity))
    found = partners(index, request({"waste": 1}), "waste")
    assert [p.profile_id for p in found] == ["joined", "public"]


def test_a_council_from_public_data_is_labelled_and_claims_no_capacity(index):
    index.upsert(from_public_data("public", "TWIN", {"waste": 5}))
    (found,) = partners(index, request({"waste": 1}), "waste")
    assert found.reasons[0] == "Not on partnermatch yet: recommended from public data"
    assert found.reasons[1] == "Rated 5 out of 5 for Waste from public data"
    assert not [r for r in found.reasons if "capacity" in r.lower()]


def random_candidates(rng, count):
    """Return councils (several profiles each) and suppliers with random ratings and texts."""
    words = ["recycling", "foster", "carers", "reablement", "potholes", "housing", "leavers"]
    areas = ["waste", "housing", "childrens_services", "adult_social_care"]
    found = []
    for i in range(count):
        ratings = {a: int(rng.integers(1, 6)) for a in rng.choice(areas, 2, replace=False)}
        fields = {
            "strengths_text": " ".join(rng.choice(words, int(rng.integers(0, 5)))),
            "capacity_to_support": str(rng.choice(["available", "limited", "none"])),
            "improved": tuple(a for a in areas if rng.random() < 0.2),
            "name": f"Name {int(rng.integers(0, 5))}",
        }
        if rng.random() < 0.15:
            regions = tuple(rng.choice(["North West", "London"], int(rng.integers(0, 2))))
            found.append(supplier(f"s{i}", ratings, regions_served=regions, **fields))
        else:
            gss = PLACES[int(rng.integers(1, len(PLACES)))].gss_code
            found.append(council(f"c{i}", gss, ratings, **fields))
    return found


def brute_force(context, candidates, req, area, counts, limit):
    """Score every eligible candidate with the documented formula, without any shortcut."""
    from partnermatch.shared.matching.text import TextIndex

    vectors = TextIndex().vectors([req.needs_text, *(c.strengths_text for c in candidates)])
    cosines = (vectors[1:] @ vectors[0].T).toarray().ravel()
    scored = []
    for candidate, cosine in zip(candidates, cosines, strict=True):
        rating = candidate.ratings.get(area, 0)
        if rating < 4 or candidate.capacity_to_support == "none" or (
                candidate.kind == "council" and candidate.gss_code == req.gss_code):
            continue
        if candidate.kind not in req.seeking:
            continue
        if candidate.kind == "council" and not delivers(candidate.council_type, area):
            continue
        if candidate.kind == "council":
            fit = context.similarity(req.gss_code, candidate.gss_code, area)
        else:
            served = not candidate.regions_served or req.region in candidate.regions_served
            fit = context.neutral(area) * (1.0 if served else 0.6)
        struggles = {a for a, r in candidate.ratings.items() if r <= 2
                     and (candidate.kind == "council" and delivers(candidate.council_type, a))}
        can_help = {a for a, r in req.ratings.items() if r >= 4}
        score = (rating - 3) / 2 * fit * (0.75 + 0.25 * cosine)
        score *= {"available": 1.0, "limited": 0.8}[candidate.capacity_to_support]
        score *= 1.1 if area in candidate.improved else 1.0
        score *= 1.1 if struggles & can_help else 1.0
        scored.append((round(min(score, 1.0), 6), candidate))
    scored.sort(key=lambda sc: (-sc[0], sc[1].name, sc[1].profile_id))
    seen, best = set(), []
    for score, candidate in scored:
        entity = candidate.gss_code if candidate.kind == "council" else candidate.profile_id
        if entity not in seen:
            seen.add(entity)
            best.append((candidate.profile_id, score))
    chosen = []  # diversity: within 2% of the best left, the least recommended first
    while best and len(chosen) < limit:
        within = [b for b in best if b[1] >= best[0][1] * 0.98 - 1e-9]
        pick = min(within, key=lambda b: counts.get(b[0], 0))
        best.remove(pick)
        chosen.append(pick)
    return chosen


@pytest.mark.parametrize("seed", range(4))
def test_the_index_ranks_exactly_as_the_formula_says(context, seed):
    """Partitions, per-council context and skipped text cosines never change the ranking."""
    from partnermatch.shared.reference.taxonomy import SERVICE_AREAS

    rng = np.random.default_rng(seed)
    candidates = random_candidates(rng, 400)
    index = MatchIndex(context)
    index.extend(candidates)
    counts = {}
    for profile_id in rng.choice([c.profile_id for c in candidates], 60):
        index.record_recommended([str(profile_id)])
        counts[str(profile_id)] = counts.get(str(profile_id), 0) + 1
    for needs_text, seeking in (("", ("council", "supplier")), ("recycling potholes", (
            "council", "supplier")), ("foster carers and care leavers", ("supplier",))):
        req = request({"waste": 1, "childrens_services": 2, "housing": 5}, needs_text=needs_text,
                      seeking=seeking)
        for need in index.match(req, limit=5):
            assert need.service_area in SERVICE_AREAS
            expected = brute_force(context, candidates, req, need.service_area, counts, 5)
            got = [(p.profile_id, p.score) for p in need.partners]
            assert [g[0] for g in got] == [e[0] for e in expected]
            assert [g[1] for g in got] == pytest.approx([e[1] for e in expected], abs=2e-6)


def test_adding_in_bulk_matches_adding_one_at_a_time(context):
    candidates = random_candidates(np.random.default_rng(9), 300)
    bulk, single = MatchIndex(context), MatchIndex(context)
    bulk.extend(candidates)
    for candidate in candidates:
        single.upsert(candidate)
    req = request({"waste": 1, "adult_social_care": 2}, needs_text="reablement recycling")
    assert bulk.match(req) == single.match(req)


def test_compacting_after_many_removals_keeps_the_survivors(context):
    candidates = random_candidates(np.random.default_rng(5), 3000)
    index = MatchIndex(context)
    index.extend(candidates)
    expected = MatchIndex(context)
    expected.extend(candidates[2500:])
    for candidate in candidates[:2500]:
        index.remove(candidate.profile_id)
    assert len(index) == 500
    req = request({"waste": 1, "housing": 2}, needs_text="housing recycling")
    assert index.match(req, limit=20) == expected.match(req, limit=20)
