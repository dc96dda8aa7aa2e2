"""Writing a ``ProfileStore`` to a folder, and opening it again shared between processes.

Arrays go to ``.npy`` files with spare rows (``Columns.save``); the per-profile ids, names and
reasons are encoded as arrays and small tables in ``index.json``, so a process that opens the folder
holds none of them as Python objects: they are read through ``FrozenList`` and ``FrozenDict``. The
arrays are mapped copy-on-write, shared with every process that opens the folder until one changes
them (then only the pages written become private). ``index.json`` also carries the caller's own
state (a JSON object), given back by ``load``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from partnermatch.shared.matching.columns import Columns, FrozenDict, FrozenList, mapped
from partnermatch.shared.matching.store import (
    PARTITION_COLUMNS,
    SLOT_COLUMNS,
    SUPPLIER_COLUMNS,
    ProfileStore,
)
from partnermatch.shared.matching.text import TextIndex


def save(store: ProfileStore, folder: Path, spare: int, state: dict[str, Any]) -> None:
    """Write a store and ``state`` to an empty folder, with room for ``spare`` more profiles."""
    sizes = {"slots": store.slots.save(folder, "slots", spare), **store.text.save(folder, spare)}
    for area, partition in enumerate(store.partitions):
        sizes[f"{area}.rows"] = partition.rows.save(folder, f"{area}.rows", spare)
        sizes[f"{area}.suppliers"] = partition.suppliers.save(folder, f"{area}.suppliers", spare)
    _save_ids(store, folder)
    tables = {}
    for name, values in (("names", store.names), ("gss", store.gss)):
        tables[name], codes = interned(values, lambda value: value)
        np.save(folder / f"{name}.npy", codes)
    for name, values, key in (("evidence", store.evidence, _evidence_key),
                              ("served", store.served, lambda value: value)):
        slots = np.array(sorted(values), dtype=np.int64)
        tables[name], codes = interned([values[s] for s in slots.tolist()], key)
        np.save(folder / f"{name}.slots.npy", slots)
        np.save(folder / f"{name}.codes.npy", codes)
    (folder / "index.json").write_text(json.dumps({"sizes": sizes, "tables": tables, **state}))


def _save_ids(store: ProfileStore, folder: Path) -> None:
    """Write each slot's profile id, and the live ids sorted with their slots."""
    ids = [(pid or "").encode() for pid in store.ids]
    np.save(folder / "ids.npy", np.array(ids or [b""], dtype=bytes)[: len(ids)])
    keys = np.array([pid.encode() for pid in store.slot_of] or [b""], dtype=bytes)
    order = np.argsort(keys[: len(store.slot_of)], kind="stable")
    np.save(folder / "slot_of.keys.npy", keys[order])
    np.save(folder / "slot_of.slots.npy",
            np.array(list(store.slot_of.values()), dtype=np.int64)[order])


def load(folder: Path) -> tuple[ProfileStore, dict[str, Any]]:
    """Open a store written by ``save``, and the state saved with it."""
    state = json.loads((folder / "index.json").read_text())
    sizes, tables = state.pop("sizes"), state.pop("tables")
    tables["evidence"] = [{area: tuple(lines) for area, lines in evidence.items()}
                          for evidence in tables["evidence"]]
    tables["served"] = [tuple(regions) for regions in tables["served"]]
    store = ProfileStore()
    store.slots = Columns.open(SLOT_COLUMNS, folder, "slots", sizes["slots"])
    store.text = TextIndex.open(folder, sizes)
    for area, partition in enumerate(store.partitions):
        partition.rows = Columns.open(PARTITION_COLUMNS, folder, f"{area}.rows",
                                      sizes[f"{area}.rows"])
        partition.suppliers = Columns.open(SUPPLIER_COLUMNS, folder, f"{area}.suppliers",
                                           sizes[f"{area}.suppliers"])
    store.ids = FrozenList(mapped(folder / "ids.npy"), bytes.decode)
    keys = mapped(folder / "slot_of.keys.npy")
    store.slot_of = FrozenDict(keys, mapped(folder / "slot_of.slots.npy"),
                               encode=id_encoder(keys.dtype.itemsize),
                               decode_key=bytes.decode, decode=int)
    store.names = FrozenList(mapped(folder / "names.npy"), tables["names"].__getitem__)
    store.gss = FrozenList(mapped(folder / "gss.npy"), tables["gss"].__getitem__)
    store.evidence, store.served = (
        FrozenDict(mapped(folder / f"{name}.slots.npy"), mapped(folder / f"{name}.codes.npy"),
                   encode=int, decode_key=int, decode=tables[name].__getitem__)
        for name in ("evidence", "served"))
    return store, state


def interned(values: Iterable[Any], key: Callable[[Any], Hashable]) -> tuple[list, np.ndarray]:
    """Return the distinct values (first seen first) and each value's number in that list."""
    table: list = []
    numbers: dict[Hashable, int] = {}
    codes = []
    for value in values:
        number = numbers.setdefault(key(value), len(table))
        if number == len(table):
            table.append(value)
        codes.append(number)
    return table, np.array(codes, dtype=np.int32)


def _evidence_key(evidence: dict[str, tuple[str, ...]]) -> Hashable:
    return tuple(sorted((area, tuple(lines)) for area, lines in evidence.items()))


def id_encoder(width: int) -> Callable[[str], bytes | None]:
    """Return a function giving a profile id as the bytes stored for it (None if it is too long
    to be stored, or not a string)."""
    def encode(profile_id: str) -> bytes | None:
        encoded = profile_id.encode() if isinstance(profile_id, str) else None
        return encoded if encoded is not None and len(encoded) <= width else None
    return encode
