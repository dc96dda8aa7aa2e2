"""Column arrays that grow, compact, save and open copy-on-write; lists and dicts over them."""

import numpy as np
import pytest

from partnermatch.shared.matching.columns import Columns, FrozenDict, FrozenList, mapped

SPEC = {"n": (np.int64, ()), "pair": (np.float32, (2,))}


def filled(count):
    columns = Columns(SPEC)
    columns.append({"n": np.arange(count), "pair": np.ones((count, 2))})
    return columns


def test_appends_grow_the_columns_and_return_the_first_new_row():
    columns = filled(3)
    assert columns.append({"n": np.arange(100, 200), "pair": np.zeros((100, 2))}) == 3
    assert columns.size == 103
    assert columns.view("n")[:5].tolist() == [0, 1, 2, 100, 101]
    assert columns.view("pair").shape == (103, 2)
    assert columns.view("pair")[2].tolist() == [1.0, 1.0]


def test_keep_leaves_only_the_rows_given_in_that_order():
    columns = filled(5)
    columns.keep(np.array([4, 1]))
    assert columns.size == 2 and columns.view("n").tolist() == [4, 1]
    columns.append({"n": np.array([9]), "pair": np.zeros((1, 2))})
    assert columns.view("n").tolist() == [4, 1, 9]


def test_saved_columns_open_shared_and_changes_stay_private(tmp_path):
    filled(3).save(tmp_path, "x", spare=10)
    opened = Columns.open(SPEC, tmp_path, "x", 3)
    assert opened.view("n").tolist() == [0, 1, 2]
    opened.view("n")[0] = 7
    opened.append({"n": np.array([3]), "pair": np.zeros((1, 2))})  # into the spare rows
    assert opened.view("n").tolist() == [7, 1, 2, 3]
    assert mapped(tmp_path / "x.n.npy")[:4].tolist() == [0, 1, 2, 0]


def test_a_frozen_list_reads_the_array_and_keeps_its_own_changes():
    values = FrozenList(np.array([b"a", b"b"]), bytes.decode)
    values += ["c"]
    values[0] = "z"
    values[2] = "y"
    assert len(values) == 3
    assert [values[i] for i in range(3)] == ["z", "b", "y"]


def test_a_frozen_dict_finds_sorted_keys_and_keeps_its_own_changes():
    mapping = FrozenDict(np.array([b"a", b"c"]), np.array([1, 2]), encode=str.encode,
                         decode_key=bytes.decode, decode=int)
    assert mapping.get("c") == 2 and mapping.get("b") is None and "a" in mapping
    mapping["b"] = 5
    assert mapping.pop("a") == 1 and mapping.pop("a", "gone") == "gone"
    assert "a" not in mapping and len(mapping) == 2
    assert sorted(mapping.items()) == [("b", 5), ("c", 2)]


@pytest.mark.parametrize("key", ["toolong", None])
def test_a_frozen_dict_misses_keys_it_cannot_encode(key):
    mapping = FrozenDict(np.array([b"a"]), np.array([1]),
                         encode=lambda k: k.encode() if isinstance(k, str) and len(k) == 1
                         else None, decode_key=bytes.decode, decode=int)
    assert mapping.get(key, "missing") == "missing"
