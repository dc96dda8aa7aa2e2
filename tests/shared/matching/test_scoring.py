"""The matching score on its own: small arrays whose right answers are worked out by hand."""

import numpy as np
import pytest

from partnermatch.shared.matching import scoring
from partnermatch.shared.matching.scoring import CAPACITIES

AVAILABLE, LIMITED, UNKNOWN, NONE = (CAPACITIES.index(c)
                                     for c in ("available", "limited", "unknown", "none"))


def test_weight_is_strength_times_trajectory_times_capacity():
    ratings = np.array([3, 4, 5, 5, 4, 4, 5, 5], dtype=np.int8)
    improved = np.array([0, 0, 0, 0b100, 0, 0, 0, 0b010], dtype=np.uint16)  # areas 2 and 1
    capacity = np.array([AVAILABLE, AVAILABLE, AVAILABLE, AVAILABLE, LIMITED, UNKNOWN, NONE,
                         AVAILABLE], dtype=np.int8)
    alive = np.ones(8, dtype=bool)
    got = scoring.weights(ratings, improved, capacity, alive, area=2)
    # 3 is not strong; 4 is half strength; improved in area 2 earns 1.1 (area 1 does not count)
    assert got == pytest.approx([0.0, 0.5, 1.0, 1.1, 0.4, 0.35, 0.0, 1.0])


def test_a_dead_row_weighs_nothing():
    got = scoring.weights(np.array([5, 5], dtype=np.int8), np.zeros(2, dtype=np.uint16),
                          np.array([AVAILABLE] * 2, dtype=np.int8), np.array([True, False]), 0)
    assert got.tolist() == [1.0, 0.0]


def test_suppliers_score_less_outside_the_requesters_region():
    serves_all = np.array([True, False, False])
    serves = np.array([0, 0b01, 0b10], dtype=np.uint64)
    assert scoring.supplier_factors(serves_all, serves, 0b10, 0.4).tolist() == pytest.approx(
        [0.4, 0.24, 0.4])
    assert scoring.supplier_factors(serves_all, serves, None, 0.4).tolist() == pytest.approx(
        [0.4, 0.4, 0.4])
    # a region no supplier has named (bit 0): only those working everywhere are in it
    assert scoring.supplier_factors(serves_all, serves, 0, 0.4).tolist() == pytest.approx(
        [0.4, 0.24, 0.24])


def test_reciprocity_raises_only_rows_struggling_where_the_requester_can_help():
    weight = np.array([1.0, 0.5, 0.5], dtype=np.float32)
    factor = np.array([0.5, 0.8, 0.8], dtype=np.float32)
    struggles = np.array([0b10, 0b01, 0b00], dtype=np.uint16)
    assert scoring.scores_before_text(weight, factor, struggles, 0b01) == pytest.approx(
        [0.5, 0.44, 0.4])
    assert scoring.scores_before_text(weight, factor, struggles, 0) == pytest.approx(
        [0.5, 0.4, 0.4])


def test_best_per_council_leaves_suppliers_out():
    groups = np.array([0, 1, 0, -1, 2])
    scores = np.array([0.2, 0.5, 0.7, 0.9, -1.0])
    # group 2's only row is not eligible: its best stays 0
    assert scoring.best_per_council(groups, scores, 3).tolist() == [0.7, 0.5, 0.0]


def test_kth_best_counts_councils_and_suppliers_with_a_positive_score():
    best, suppliers = np.array([0.7, 0.5, 0.0]), np.array([0.9, -1.0])
    assert scoring.kth_best(best, suppliers, 1) == 0.9
    assert scoring.kth_best(best, suppliers, 2) == 0.7
    assert scoring.kth_best(best, suppliers, 5) == 0.5  # fewer than the limit: the lowest
    assert scoring.kth_best(np.zeros(2), np.array([-1.0]), 3) == 0.0


def test_best_first_orders_only_the_head_ties_by_row():
    rows = np.array([10, 11, 12, 13, 14])
    values = np.array([0.1, 0.4, 0.4, 0.3, 0.2])
    assert scoring.best_first(rows, values, 2).tolist() == [11, 12, 10, 13, 14]
    assert scoring.best_first(rows, values, 9).tolist() == [11, 12, 13, 14, 10]


def test_text_pool_keeps_rows_that_text_cannot_push_out():
    groups = np.array([0, 0, 1, -1])
    scores = np.array([0.9, 0.5, 0.8, 0.1])
    suppliers = np.array([3])
    # one partner: the best is 0.9; with text it may fall to 0.675, then within 2% of that
    assert scoring.text_pool(scores, groups, suppliers, 2, 1, True).tolist() == [0, 2]
    # without text every score falls alike: only rows within 2% of 0.9 remain
    assert scoring.text_pool(scores, groups, suppliers, 2, 1, False).tolist() == [0]
    assert scoring.text_pool(np.array([-1.0, 0.0]), np.array([0, 1]), np.empty(0, int), 2, 5,
                             True).size == 0


def test_without_needs_text_every_score_takes_the_text_floor():
    pool, scores = np.array([0, 2]), np.array([0.8, 0.1, 0.4])
    rows, final = scoring.finals(pool, scores, np.array([0, 1, 2]), 3, 2, None)
    assert rows.tolist() == [0, 2]
    assert final == pytest.approx([0.6, 0.3])


def test_text_can_reorder_rows():
    scores = np.array([0.8, 0.7])
    cosines = {0: 0.0, 1: 1.0}
    rows, final = scoring.finals(np.array([0, 1]), scores, np.array([0, 1]), 2, 2,
                                 lambda r: np.array([cosines[i] for i in r.tolist()]))
    assert rows.tolist() == [0, 1]
    assert final == pytest.approx([0.6, 0.7])


def test_text_is_not_scored_for_rows_that_cannot_reach_the_top():
    # 256 councils score 1.0 (the first block), 44 more score 0.1: with one partner wanted and
    # every text perfect, the block's best (1.0) leaves the others no chance
    scores = np.array([0.1] * 22 + [1.0] * 256 + [0.1] * 22)
    asked = []

    def cosines(rows):
        asked.append(rows.copy())
        return np.ones(len(rows))

    rows, final = scoring.finals(np.arange(300), scores, np.arange(300), 300, 1, cosines)
    assert [len(a) for a in asked] == [256]
    assert sorted(rows.tolist()) == list(range(22, 278))
    assert final == pytest.approx([1.0] * 256)


def test_one_per_council_keeps_each_councils_best_and_every_supplier():
    final = np.array([0.9, 0.8, 0.85, 0.5, 0.6])
    groups = np.array([0, 0, -1, 1, -1])
    slots = np.array([5, 6, 7, 8, 9])
    names = ids = {slot: f"p{slot}" for slot in range(5, 10)}
    chosen = scoring.one_per_council(final, groups, slots, 2, 5, names, ids)
    assert chosen == [(5, 0.9), (7, 0.85), (9, 0.6), (8, 0.5)]
    # two partners: only those within 2% of the second best (0.85) are kept
    assert scoring.one_per_council(final, groups, slots, 2, 2, names, ids) == [
        (5, 0.9), (7, 0.85)]


def test_one_per_council_breaks_ties_by_name_then_profile_id():
    names = {1: "Angus", 2: "Bury", 3: "Bury"}
    ids = {1: "z", 2: "b", 3: "a"}
    chosen = scoring.one_per_council(np.array([0.7, 0.7, 0.7]), np.array([0, 1, 2]),
                                     np.array([2, 3, 1]), 3, 3, names, ids)
    assert [slot for slot, _ in chosen] == [1, 3, 2]


def test_spread_puts_the_least_recommended_first_among_near_equals():
    ranked = [(1, 1.0), (2, 0.99), (3, 0.97)]
    # 2 is within 2% of 1 and less recommended; 3 is not within 2% of 1, so it waits
    assert scoring.spread(ranked, [5, 0, 0], 3) == [(2, 0.99), (1, 1.0), (3, 0.97)]
    assert scoring.spread(ranked, [0, 0, 0], 2) == [(1, 1.0), (2, 0.99)]
    assert scoring.spread([], [], 3) == []


def test_needs_are_areas_rated_1_or_2_that_the_council_runs_weakest_first():
    ratings = {"housing": 2, "waste": 1, "adult_social_care": 1, "planning": 3, "unknown": 1}
    assert scoring.struggling_areas(ratings, None) == [
        ("adult_social_care", 1), ("waste", 1), ("housing", 2)]
    # a district does not run adult social care
    assert scoring.struggling_areas(ratings, "NMD") == [("waste", 1), ("housing", 2)]


def test_a_council_can_help_where_it_is_strong_and_runs_the_service():
    ratings = {"adult_social_care": 5, "housing": 4, "waste": 3}
    assert scoring.can_help(ratings, "NMD") == 1 << scoring.AREA["housing"]
    assert scoring.can_help(ratings, "UA") == (
        1 << scoring.AREA["housing"] | 1 << scoring.AREA["adult_social_care"])
    assert scoring.can_help(ratings, None) == 0
