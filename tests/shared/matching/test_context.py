"""Circumstances similarity between councils."""

import math
import re
from dataclasses import replace

import numpy as np
import pytest

from partnermatch.shared.matching.context import (
    COLUMNS,
    NEUTRAL_NEIGHBOURS,
    SIMILARITY_FLOOR,
    ContextModel,
    combine_gaps,
    context_reasons,
)
from partnermatch.shared.reference.records import Place

RURALITY = ("Urban", "Urban with rural areas", "Rural", "Sparse and rural")


def place(gss, name=None, **overrides):
    """Build a place: a deprived urban unitary in the North West unless told otherwise."""
    fields = {
        "council_type": "UA", "region": "North West", "population": 300_000, "area_km2": 100.0,
        "imd_score": 35.0, "imd_quintile": 1, "rurality": "Urban", "lat": 53.5, "lon": -2.3,
    }
    fields.update(overrides)
    if "density" not in fields and fields["population"] and fields["area_km2"]:
        fields["density"] = fields["population"] / fields["area_km2"]
    return Place(gss_code=gss, name=name or gss, **fields)


YOUNG_DIVERSE = {"age_0-14_perc": 21.0, "age_25-34_perc": 16.0, "age_65-74_perc": 7.0,
                 "age_75plus_perc": 5.0, "ethnicity_white_perc": 60.0,
                 "born_outside_UK_perc": 30.0}


def spread_of_places(count=16):
    """Return varied councils, so the scaler sees a realistic spread."""
    return [
        place(f"E0{i:02d}", population=80_000 + 60_000 * i, area_km2=40.0 * 1.6**i,
              imd_score=8.0 + 2.3 * i, imd_quintile=5 - i * 5 // count,
              rurality=RURALITY[i % 4], lat=50.5 + 0.3 * i, lon=-4.0 + 0.25 * i,
              region=("North West", "South West", "London", "East Midlands")[i % 4],
              council_type=("UA", "NMD", "CTY", "MD")[i % 4])
        for i in range(count)
    ]


def test_identical_places_are_fully_similar():
    model = ContextModel.fit([place("A"), place("B"), *spread_of_places()])
    assert model.similarity("A", "B") == pytest.approx(1.0)
    assert model.similarity("A", "A", "highways_transport") == pytest.approx(1.0)


def test_similarity_is_symmetric_and_between_zero_and_one():
    model = ContextModel.fit(spread_of_places())
    for area in (None, "childrens_services", "highways_transport"):
        forward = model.similarity("E001", "E009", area)
        assert 0.0 < forward < 1.0
        assert forward == pytest.approx(model.similarity("E009", "E001", area))


def test_vectorised_similarities_agree_with_one_at_a_time():
    model = ContextModel.fit(spread_of_places())
    codes = ["E002", "E005", "E011", "unknown"]
    many = model.similarities("E003", codes, "waste")
    assert many[:3] == pytest.approx([model.similarity("E003", c, "waste") for c in codes[:3]])
    assert math.isnan(many[3])


def test_a_council_alike_in_circumstances_is_more_similar_than_one_unlike():
    twin = place("TWIN", population=310_000, imd_score=34.0)
    unlike = place("UNLIKE", council_type="CTY", region="South East", population=1_100_000,
                   area_km2=3500.0, imd_score=11.0, imd_quintile=5, rurality="Sparse and rural",
                   lat=51.2, lon=0.7)
    model = ContextModel.fit([place("ME"), twin, unlike, *spread_of_places()])
    assert model.similarity("ME", "TWIN") > model.similarity("ME", "UNLIKE")


def test_similar_excludes_itself_and_respects_eligible():
    model = ContextModel.fit(spread_of_places())
    found = model.similar("E004", limit=50)
    assert "E004" not in [p.gss_code for p, _, _ in found]
    assert len(found) == 15
    assert [s for _, s, _ in found] == sorted((s for _, s, _ in found), reverse=True)
    districts = model.similar("E004", limit=3, eligible=lambda p: p.council_type == "NMD")
    assert len(districts) == 3
    assert {p.council_type for p, _, _ in districts} == {"NMD"}


def per_area_weights_case(weights=None):
    """Return a deprived urban council, a deprived rural one and an affluent urban one."""
    me = place("ME", imd_score=40.0, population=250_000, area_km2=60.0)
    deprived_rural = place("DEPRIVED_RURAL", imd_score=40.0, population=250_000,
                           area_km2=5000.0, rurality="Sparse and rural")
    affluent_urban = place("AFFLUENT_URBAN", imd_score=9.0, imd_quintile=5, population=250_000,
                           area_km2=60.0)
    return ContextModel.fit([me, deprived_rural, affluent_urban, *spread_of_places()], weights)


def ranks(model, area):
    return [p.gss_code for p, _, _ in model.similar("ME", area, limit=40)]


def test_each_service_area_ranks_neighbours_with_its_own_weights():
    model = per_area_weights_case({"childrens_services": {"deprivation": 6.0},
                                   "highways_transport": {"area": 4.0, "rurality": 4.0}})
    highways, childrens = ranks(model, "highways_transport"), ranks(model, "childrens_services")
    assert highways.index("AFFLUENT_URBAN") < highways.index("DEPRIVED_RURAL")
    assert childrens.index("DEPRIVED_RURAL") < childrens.index("AFFLUENT_URBAN")


def test_measured_areas_weight_deprivation_at_least_as_much_as_highways_does():
    model = per_area_weights_case()
    for area in ("education_send", "public_health", "childrens_services"):
        assert ranks(model, area).index("DEPRIVED_RURAL") <= ranks(
            model, "highways_transport").index("DEPRIVED_RURAL")


def test_child_poverty_counts_only_for_childrens_areas_and_a_council_without_it_is_typical():
    low = place("LOW", need_indicators={"ChildPov": 8.0, "PriFSM": 10.0, "SecFSM": 9.0})
    high = place("HIGH", need_indicators={"ChildPov": 38.0, "PriFSM": 35.0, "SecFSM": 33.0})
    typical = place("TYPICAL", need_indicators={"ChildPov": 20.0, "PriFSM": 20.0, "SecFSM": 18.0})
    no_data = place("NONE")
    others = [place(f"N{i}", imd_score=10.0 + 3 * i, need_indicators={
        "ChildPov": 10.0 + 3 * i, "PriFSM": 11.0 + 3 * i, "SecFSM": 10.0 + 2.8 * i})
        for i in range(8)]
    model = ContextModel.fit([low, high, typical, no_data, *others])
    assert model.similarity("LOW", "HIGH") == pytest.approx(1.0)
    assert model.similarity("LOW", "HIGH", "childrens_services") < 0.9
    # imputed with the median, not skipped: closer to a typical council than to an extreme one
    assert model.similarity("NONE", "TYPICAL", "childrens_services") > model.similarity(
        "NONE", "HIGH", "childrens_services")
    assert model.similarity("NONE", "HIGH", "childrens_services") < 1.0


def test_each_area_is_standardised_within_the_councils_that_deliver_it():
    """Districts do not run children's services: their spread must not set its scale."""
    upper = [place(f"U{i}", council_type="UA", imd_score=20.0 + i) for i in range(10)]
    districts = [place(f"D{i}", council_type="NMD", imd_score=5.0 + 10 * i) for i in range(10)]
    model = ContextModel.fit([*upper, *districts])
    scaler = model.pipeline("childrens_services").named_transformers_["numeric"]["scale"]
    column = COLUMNS.index("imd_score")
    assert scaler.center_[column] == pytest.approx(24.5)
    assert model.pipeline(None).named_transformers_["numeric"]["scale"].center_[
        column] == pytest.approx(26.5)


def test_census_make_up_brings_alike_populations_closer():
    young = {"age_0-14_perc": 21.0, "age_25-34_perc": 16.0, "age_65-74_perc": 7.0,
             "age_75plus_perc": 5.0, "ethnicity_white_perc": 60.0, "born_outside_UK_perc": 30.0}
    old = {"age_0-14_perc": 14.0, "age_25-34_perc": 9.0, "age_65-74_perc": 14.0,
           "age_75plus_perc": 13.0, "ethnicity_white_perc": 97.0, "born_outside_UK_perc": 4.0}
    places = [place("ME", census=young), place("YOUNG", census=dict(young)),
              place("OLD", census=old), *spread_of_places()]
    places += [place(f"C{i}", census={k: (young[k] * i + old[k] * (6 - i)) / 6 for k in young})
               for i in range(7)]
    model = ContextModel.fit(places)
    assert model.similarity("ME", "YOUNG") > model.similarity("ME", "OLD")


def test_a_council_without_census_is_not_taken_for_the_typical_council_it_is_imputed_as():
    ages = [14.0 + i for i in range(9)]
    places = [place(f"C{i}", census={"age_0-14_perc": share}) for i, share in enumerate(ages)]
    places.append(place("SCOT", region="Scotland", council_type="SCO"))
    model = ContextModel.fit([*places, *spread_of_places()], {"default": {"region": 0.0}})
    typical = "C4"  # the median share: where the imputer puts a council without figures
    nearest_with_figures = model.similarity(typical, "C3")
    assert model.similarity(typical, "SCOT") < nearest_with_figures
    gaps = model.gaps(["C4", "C3", "SCOT"])
    assert gaps.blocks["age"][0, 2] > gaps.blocks["age"][0, 1] > 0


def test_unknown_rurality_label_is_treated_as_the_median():
    labelled = [place(f"R{i}", rurality=label) for i, label in enumerate(RURALITY[:3])]
    model = ContextModel.fit([*labelled, place("ODD", rurality="Moonbase"), *spread_of_places()])
    assert model.similarity("ODD", "R1") == pytest.approx(1.0)


def test_missing_figures_are_imputed_rather_than_failing():
    sparse = Place(gss_code="BARE", name="Bare", council_type="UA", region="Wales")
    model = ContextModel.fit([sparse, *spread_of_places()])
    assert 0.0 < model.similarity("BARE", "E003") < 1.0


def test_a_place_it_cannot_compare_stands_as_a_typical_tenth_neighbour():
    """Suppliers and councils without public data get the similarity of a typical council's
    10th nearest neighbour: below a typical near neighbour, above a typical far one."""
    places = spread_of_places(40)
    model = ContextModel.fit(places)
    codes = [p.gss_code for p in places]
    ranked = np.sort([np.delete(model.similarities(code, codes), i)
                      for i, code in enumerate(codes)], axis=1)[:, ::-1]
    typical = np.median(ranked, axis=0)
    neutral = model.neutral()
    assert neutral == pytest.approx(typical[NEUTRAL_NEIGHBOURS - 1], rel=1e-4)
    assert typical[NEUTRAL_NEIGHBOURS] <= neutral < typical[1]


def test_upsert_adds_and_replaces_places_without_refitting():
    model = ContextModel.fit(spread_of_places())
    before = model.similarity("E001", "E002")
    model.upsert(place("NEW", **{k: getattr(model.place("E001"), k) for k in (
        "population", "area_km2", "imd_score", "rurality", "lat", "lon", "region",
        "council_type")}))
    assert model.similarity("E001", "NEW") == pytest.approx(1.0)
    assert model.similarity("E001", "E002") == pytest.approx(before)
    model.upsert(place("NEW", imd_score=80.0, rurality="Sparse and rural"))
    assert model.similarity("E001", "NEW") < 0.5
    assert model.place("NEW").imd_score == 80.0
    assert len(model) == 17


def test_unknown_weight_features_are_rejected():
    with pytest.raises(ValueError, match="unknown context features"):
        ContextModel.fit(spread_of_places(), weights={"waste": {"bin_colour": 1.0}})


def test_caller_weights_override_the_defaults():
    heavy = ContextModel.fit(spread_of_places(), weights={"default": {"region": 50.0}})
    plain = ContextModel.fit(spread_of_places())
    # E000 and E004 share a region; E000 and E001 do not.
    assert heavy.similarity("E000", "E004") / heavy.similarity("E000", "E001") > (
        plain.similarity("E000", "E004") / plain.similarity("E000", "E001"))


def test_reasons_name_what_two_councils_share():
    manchester = place("M", "Manchester", council_type="MD", population=790_000,
                       rurality="Largely rural", lat=53.479, lon=-2.245)
    bolton = place("B", "Bolton", council_type="MD", population=820_000,
                   rurality="Largely rural", lat=53.578, lon=-2.429)
    reasons = context_reasons(manchester, bolton)
    assert reasons[:5] == (
        "Similar deprivation: both in the most deprived fifth",
        "Also a metropolitan borough",
        "Same region: North West",
        "Similar population: 790,000 and 820,000",
        "Both largely rural",
    )
    assert re.fullmatch(r"Neighbours: (\d+) miles apart", reasons[5])
    assert int(reasons[5].split()[1]) in range(9, 13)


def test_reasons_stay_silent_about_what_differs():
    urban = place("U", population=200_000, imd_quintile=2)
    rural = place("R", council_type="CTY", region="South West", population=600_000,
                  imd_quintile=4, rurality="Sparse and rural", lat=50.7, lon=-3.5)
    assert context_reasons(urban, rural, {"deprivation", "council_type", "region", "population",
                                          "rurality", "distance"}) == ()
    # what could not be compared is said, never passed over
    assert all("not compared" in reason for reason in context_reasons(urban, rural))


def test_reasons_follow_the_features_an_area_weighs():
    manchester = place("M", "Manchester", council_type="MD", census=YOUNG_DIVERSE,
                       need_indicators={"ChildPov": 33.0})
    birmingham = place("B", "Birmingham", council_type="MD", census=YOUNG_DIVERSE,
                       need_indicators={"ChildPov": 35.0})
    model = ContextModel.fit([manchester, birmingham, *spread_of_places()],
                             {"childrens_services": {"council_type": 0.0, "child_poverty": 1.0}})
    reasons = model.reasons(manchester, birmingham, "childrens_services")
    assert "Similar population make-up: both have a large share of children and young families "\
        "(21% and 21% under 15)" in reasons
    assert "Similar child poverty: 33% and 35% of children in low-income families" in reasons
    assert "Also a metropolitan borough" not in reasons
    assert "Also a metropolitan borough" in context_reasons(manchester, birmingham)


def test_housing_and_class_are_reasons_where_both_councils_stand_out():
    renters = {"tenure_social_rented_perc": 33.0, "nssec_routine_perc": 30.0,
               "nssec_never_worked_perc": 14.0}
    hackney = place("H", "Hackney", census=renters)
    knowsley = place("K", "Knowsley", census={**renters, "tenure_social_rented_perc": 36.0})
    reasons = context_reasons(hackney, knowsley, {"tenure", "occupation"})
    assert reasons == (
        "Similar housing: both have many households in social housing (33% and 36%)",
        "Similar population make-up: both have many adults in routine and semi-routine work "
        "(30% and 30%)",
        "Similar population make-up: both have many adults who have never worked or are "
        "long-term unemployed (14% and 14%)",
    )
    assert context_reasons(hackney, knowsley, {"age"}) == ()


def test_tenure_and_class_bring_alike_populations_closer():
    renting = {"tenure_social_rented_perc": 35.0, "tenure_owned_perc": 40.0,
               "nssec_routine_perc": 30.0, "nssec_higher_perc": 8.0}
    owning = {"tenure_social_rented_perc": 8.0, "tenure_owned_perc": 80.0,
              "nssec_routine_perc": 15.0, "nssec_higher_perc": 22.0}
    places = [place("ME", census=renting), place("RENT", census=dict(renting)),
              place("OWN", census=owning), *spread_of_places()]
    places += [place(f"C{i}", census={k: (renting[k] * i + owning[k] * (6 - i)) / 6
                                      for k in renting}) for i in range(7)]
    model = ContextModel.fit(places)
    assert model.similarity("ME", "RENT") > model.similarity("ME", "OWN")


def test_a_council_without_census_figures_is_said_to_be_taken_as_typical():
    glasgow = place("S", "Glasgow City", council_type="SCO", region="Scotland")
    leeds = place("L", "Leeds", council_type="MD", census=YOUNG_DIVERSE)
    reasons = context_reasons(glasgow, leeds, {"age", "deprivation"})
    assert ("Population make-up not compared: no Census 2021 figures for Glasgow City (England "
            "and Wales only), so it was taken as typical") in reasons


@pytest.mark.parametrize(("quintile", "words"), [
    (1, "the most deprived fifth"), (2, "the second most deprived fifth"),
    (3, "the middle fifth"), (4, "the second least deprived fifth"),
    (5, "the least deprived fifth"),
])
def test_deprivation_reason_names_the_fifth(quintile, words):
    a, b = place("A", imd_quintile=quintile), place("B", imd_quintile=quintile)
    assert f"Similar deprivation: both in {words}" in context_reasons(a, b)


def test_similarity_matrix_is_cheap_for_many_candidates():
    model = ContextModel.fit(spread_of_places())
    rows = np.random.default_rng(0).integers(0, 16, 20_000)
    scores = model.similarities_for_rows(0, rows, "childrens_services")
    assert scores.shape == (20_000,)
    assert ((scores > 0) & (scores <= 1)).all()


@pytest.mark.parametrize("area", [None, "childrens_services", "education_send", "waste"])
def test_weighted_gaps_give_the_distances_behind_similarity(area):
    """bench.weights compares weightings through gaps: they must be the model's own distances."""
    places = [*spread_of_places(), place("NEED", need_indicators={"ChildPov": 30.0}),
              place("NEED2", need_indicators={"ChildPov": 15.0}, census={"age_0-14_perc": 20.0}),
              place("NEED3", need_indicators={"ChildPov": 22.0}, census={"age_0-14_perc": 16.0})]
    model = ContextModel.fit(places)
    codes = [p.gss_code for p in places]
    distances = combine_gaps(model.gaps(codes, area), model.weights(area))
    similarities = np.array([model.similarities(code, codes, area) for code in codes])
    assert similarities[distances == 0] == pytest.approx(1.0)
    floored = similarities <= SIMILARITY_FLOOR
    assert distances[floored].min(initial=np.inf) > distances[~floored].max()
    apart = (distances > 0) & ~floored
    ratio = (-np.log2(similarities[apart])) ** (1 / model.power) / distances[apart]
    assert ratio == pytest.approx(np.full(ratio.shape, ratio[0]))


def test_a_block_the_weights_leave_out_counts_for_nothing():
    """bench.candidates adds its own blocks to the gaps: unweighted, they change no distance."""
    model = ContextModel.fit(spread_of_places())
    codes = [p.gss_code for p in spread_of_places()]
    gaps = model.gaps(codes, "childrens_services")
    weights = model.weights("childrens_services")
    extra = replace(gaps, blocks={**gaps.blocks, "candidate": np.ones((len(codes), len(codes)))})
    assert combine_gaps(extra, weights) == pytest.approx(combine_gaps(gaps, weights))
    assert not np.allclose(combine_gaps(extra, {**weights, "candidate": 1.0}),
                           combine_gaps(gaps, weights))


def test_embedding_is_the_pipeline_output_and_its_distances_are_the_model_distances():
    places = [replace(p, need_indicators={"ChildPov": 10.0 + 37 * i % 30})
              for i, p in enumerate(spread_of_places())]
    model = ContextModel.fit(places)
    codes = [p.gss_code for p in places]
    for area in ("childrens_services", "waste"):
        rows = model.embedding(area)
        euclidean = np.linalg.norm(rows[:, None, :] - rows[None, :, :], axis=2)
        total = sum(model.weights(area).values())
        distances = combine_gaps(model.gaps(codes, area), model.weights(area))
        assert euclidean / np.sqrt(total) == pytest.approx(distances)
        raw = ContextModel.columns_of(places)
        assert model.pipeline(area).transform(raw) == pytest.approx(rows)
