"""The column store on its own: slots, partitions by area, tombstones and compaction."""

import numpy as np
import pytest

from partnermatch.shared.matching.scoring import AREA, AREAS
from partnermatch.shared.matching.store import (
    NOT_A_COUNCIL,
    Partition,
    ProfileStore,
    may_help,
)
from partnermatch.shared.reference.records import Candidate

HOUSING, WASTE, PLANNING = AREA["housing"], AREA["waste"], AREA["planning"]


def runs(*areas):
    """A row of ``runs``: True for the areas given."""
    row = np.zeros(len(AREAS), dtype=bool)
    row[[AREA[a] for a in areas]] = True
    return row


def council(profile_id, ratings, **fields):
    return Candidate(profile_id=profile_id, kind="council", name=f"{profile_id} council",
                     ratings=ratings, gss_code=f"E{profile_id}", **fields)


def supplier(profile_id, ratings, **fields):
    return Candidate(profile_id=profile_id, kind="supplier", name=f"{profile_id} ltd",
                     ratings=ratings, **fields)


def add(store, batch, runs_rows, groups):
    store.add(batch, np.array(runs_rows), np.array(groups, dtype=np.int32),
              serves=[0] * len(batch), recommended=[0] * len(batch))


def partition_slots(store, area):
    return store.partitions[area].rows.view("slot").tolist()


@pytest.fixture
def store():
    store = ProfileStore()
    add(store, [
        council("a", {"housing": 5, "waste": 4, "planning": 2}),
        council("b", {"housing": 4, "waste": 5}, capacity_to_support="limited",
                strengths_text="recycling depots"),
        supplier("s", {"housing": 5, "planning": 4}),
    ], [runs("housing", "waste", "planning"), runs("waste"), runs()], [0, 1, NOT_A_COUNCIL])
    return store


def test_a_profile_is_stored_only_where_it_is_strong_and_runs_the_service(store):
    assert len(store) == 3 and "a" in store and "z" not in store
    # b is strong in housing but does not run it; the supplier runs nothing yet may help
    assert partition_slots(store, HOUSING) == [0, 2]
    assert partition_slots(store, WASTE) == [0, 1]
    assert partition_slots(store, PLANNING) == [2]
    housing = store.partitions[HOUSING]
    assert housing.rows.view("group").tolist() == [0, NOT_A_COUNCIL]
    assert housing.suppliers.view("row").tolist() == [1]
    assert store.partitions[WASTE].rows.view("weight") == pytest.approx([0.5, 0.8])


def test_struggles_count_only_areas_the_council_runs(store):
    planning_bit = 1 << PLANNING
    assert store.slots.view("struggles").tolist() == [planning_bit, 0, 0]
    assert store.areas_of(0) == sorted([HOUSING, WASTE])


def test_profiles_that_may_not_help_are_kept_out_of_every_partition():
    assert not may_help(council("x", {}, capacity_to_support="none"))
    assert not may_help(council("x", {}, approved=False))
    assert may_help(council("x", {}, capacity_to_support="unknown"))
    store = ProfileStore()
    add(store, [council("x", {"housing": 5}, capacity_to_support="none")],
        [runs("housing")], [0])
    assert len(store) == 1 and partition_slots(store, HOUSING) == []


def test_a_tombstone_weighs_nothing_until_compaction(store):
    store.tombstone("a")
    store.tombstone("never stored")
    assert len(store) == 2 and "a" not in store
    assert store.ids[0] is None
    assert partition_slots(store, HOUSING) == [0, 2]  # still there, weightless
    assert store.partitions[HOUSING].rows.view("weight").tolist() == [0.0, 1.0]
    store.maybe_compact()  # one dead slot among two live ones: not yet
    assert store.slots.size == 3


def test_compaction_renumbers_slots_and_partitions(store):
    store.tombstone("a")
    store.compact()
    assert store.slots.size == 2
    assert store.ids == ["b", "s"] and store.names == ["b council", "s ltd"]
    assert store.slot_of == {"b": 0, "s": 1}
    assert partition_slots(store, HOUSING) == [1]
    assert store.partitions[HOUSING].suppliers.view("row").tolist() == [0]
    assert partition_slots(store, WASTE) == [0]
    # b's text moved with it to slot 0
    cosines = store.text.cosines(store.text.query("recycling"), np.array([0, 1]))
    assert cosines[0] > 0 and cosines[1] == 0


def test_dead_slots_are_dropped_once_they_outnumber_the_live_ones():
    store = ProfileStore()
    batch = [council(str(i), {"waste": 5}) for i in range(1100)]
    add(store, batch, [runs("waste")] * len(batch), list(range(len(batch))))
    for candidate in batch[:1050]:
        store.tombstone(candidate.profile_id)
    store.maybe_compact()
    assert store.slots.size == 50
    assert store.slot_of["1050"] == 0
    assert partition_slots(store, WASTE) == list(range(50))


def test_evidence_and_regions_belong_to_the_slot():
    store = ProfileStore()
    add(store, [supplier("s", {"waste": 5}, regions_served=("North West",),
                         evidence={"waste": ("Runs 3 depots",)}),
                supplier("t", {"waste": 5})], [runs(), runs()], [NOT_A_COUNCIL] * 2)
    assert store.served == {0: ("North West",)}
    assert store.evidence == {0: {"waste": ("Runs 3 depots",)}}
    assert store.slots.view("serves_all").tolist() == [False, True]
    store.tombstone("s")
    assert store.served == {} and store.evidence == {}


def test_a_partition_finds_the_row_of_a_slot():
    partition = Partition()
    partition.rows.append({"slot": np.array([2, 5, 9]), "weight": np.ones(3),
                           "group": np.zeros(3), "struggles": np.zeros(3)})
    assert [partition.row_of(s) for s in (2, 5, 9, 3, 10, -1)] == [0, 1, 2, None, None, None]
