"""Saving a column store to a folder and opening it again, on its own."""

import json

import numpy as np
import pytest

from partnermatch.shared.matching import persistence
from partnermatch.shared.matching.scoring import AREA, AREAS
from partnermatch.shared.matching.store import NOT_A_COUNCIL, ProfileStore
from partnermatch.shared.reference.records import Candidate

WASTE = AREA["waste"]


def runs(*areas):
    row = np.zeros(len(AREAS), dtype=bool)
    row[[AREA[a] for a in areas]] = True
    return row


@pytest.fixture
def store():
    store = ProfileStore()
    batch = [
        Candidate(profile_id="a", kind="council", name="Bury", ratings={"waste": 5},
                  gss_code="E1", evidence={"waste": ("Top recycling rate",)}),
        Candidate(profile_id="b", kind="council", name="Bury", ratings={"waste": 4},
                  gss_code="E1"),
        Candidate(profile_id="gone", kind="council", name="Gone", ratings={"waste": 4}),
        Candidate(profile_id="s", kind="supplier", name="Bins Ltd", ratings={"waste": 5},
                  regions_served=("North West", "Wales"), strengths_text="bins collected"),
    ]
    store.add(batch, np.array([runs("waste")] * 3 + [runs()]),
              np.array([0, 0, 1, NOT_A_COUNCIL], dtype=np.int32), serves=[0, 0, 0, 3],
              recommended=[0, 2, 0, 0])
    store.tombstone("gone")
    return store


def test_a_saved_store_opens_with_the_same_profiles_and_state(store, tmp_path):
    persistence.save(store, tmp_path, 10, {"counts": {"b": 2}, "regions": {"Wales": 1}})
    opened, state = persistence.load(tmp_path)
    assert state == {"counts": {"b": 2}, "regions": {"Wales": 1}}
    assert len(opened) == 3 and "gone" not in opened and "a" in opened
    assert [opened.ids[s] for s in range(4)] == ["a", "b", "", "s"]  # a dead slot has no id
    assert [opened.slot_of.get(p) for p in ("a", "b", "s", "gone")] == [0, 1, 3, None]
    assert [opened.names[s] for s in range(4)] == ["Bury", "Bury", "Gone", "Bins Ltd"]
    assert [opened.gss[s] for s in range(4)] == ["E1", "E1", None, None]
    assert opened.evidence.get(0) == {"waste": ("Top recycling rate",)}
    assert opened.served.get(3) == ("North West", "Wales") and opened.served.get(0) is None
    for name in ("alive", "recommended", "serves", "ratings"):
        assert opened.slots.view(name).tolist() == store.slots.view(name).tolist()
    waste = opened.partitions[WASTE]
    assert waste.rows.view("slot").tolist() == [0, 1, 2, 3]
    assert waste.rows.view("weight").tolist() == [1.0, 0.5, 0.0, 1.0]
    assert waste.suppliers.view("row").tolist() == [3]
    cosines = opened.text.cosines(opened.text.query("bins"), np.array([0, 3]))
    assert cosines[0] == 0 and cosines[1] > 0


def test_repeated_names_and_codes_are_stored_once(store, tmp_path):
    persistence.save(store, tmp_path, 10, {})
    tables = json.loads((tmp_path / "index.json").read_text())["tables"]
    assert tables["names"] == ["Bury", "Gone", "Bins Ltd"]
    assert tables["gss"] == ["E1", None]
    assert np.load(tmp_path / "names.npy").tolist() == [0, 0, 1, 2]


def test_changes_after_opening_stay_in_the_process(store, tmp_path):
    persistence.save(store, tmp_path, 10, {})
    opened, _ = persistence.load(tmp_path)
    opened.tombstone("a")
    opened.add([Candidate(profile_id="c", kind="council", name="Wigan", ratings={"waste": 5})],
               np.array([runs("waste")]), np.array([2], dtype=np.int32), serves=[0],
               recommended=[0])
    assert "a" not in opened and opened.slot_of.get("c") == 4 and opened.names[4] == "Wigan"
    assert opened.partitions[WASTE].rows.view("slot").tolist() == [0, 1, 2, 3, 4]
    again, _ = persistence.load(tmp_path)
    assert "a" in again and "c" not in again and len(again) == 3
    assert again.slots.view("alive").tolist() == [True, True, False, True]


def test_interned_numbers_distinct_values_in_order_of_first_sight():
    table, codes = persistence.interned(["b", "a", "b", None], lambda value: value)
    assert table == ["b", "a", None] and codes.tolist() == [0, 1, 0, 2]


def test_ids_too_long_for_the_stored_width_are_never_found():
    encode = persistence.id_encoder(3)
    assert encode("abc") == b"abc"
    assert encode("abcd") is None
    assert encode(7) is None
