"""The matching index's column store: one slot per profile version, partitioned by service area.

Each profile added gets a slot (a row of ``SLOT_COLUMNS``, plus its text in a ``TextIndex`` and
its id, name, GSS code, evidence and regions served). A profile is also stored under each area
where it may be recommended (a ``Partition``: slot, weight, group, struggles), so a match reads only
those rows. Replacing or removing a profile leaves a tombstone (its slot dead, weight 0) until dead
slots outnumber the live ones; then the store is compacted and the slots renumbered.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from partnermatch.shared.matching.columns import Columns
from partnermatch.shared.matching.reasons import RATING_SOURCES
from partnermatch.shared.matching.scoring import (
    AREA_BITS,
    AREAS,
    CAPACITIES,
    CAPACITY_FACTORS,
    area_bits,
    weights,
)
from partnermatch.shared.matching.text import TextIndex
from partnermatch.shared.reference.records import Candidate
from partnermatch.shared.reference.taxonomy import STRONG_MIN, STRUGGLING_MAX

KINDS = ("council", "supplier")
NOT_A_COUNCIL = -1  # the group of suppliers in a partition: context comes from their regions
SLOT_COLUMNS = {
    "alive": (bool, ()), "kind": (np.int8, ()), "ratings": (np.int8, (len(AREAS),)),
    "capacity": (np.int8, ()), "group": (np.int32, ()), "recommended": (np.int32, ()),
    "struggles": (np.uint16, ()), "improved": (np.uint16, ()), "indexed": (np.uint16, ()),
    "serves": (np.uint64, ()), "serves_all": (bool, ()), "source": (np.int8, ()),
}
PARTITION_COLUMNS = {
    "slot": (np.int64, ()), "weight": (np.float32, ()), "group": (np.int64, ()),
    "struggles": (np.uint16, ()),
}
SUPPLIER_COLUMNS = {"row": (np.int64, ())}
_COMPACT_AFTER = 1024  # dead slots tolerated whatever the number of live ones


class Partition:
    """The profiles that may be recommended for one service area, in slot order.

    ``weight`` is strength x trajectory x capacity (0 once the profile is gone);
    ``group`` is the council's group, or ``NOT_A_COUNCIL`` for suppliers, listed in ``suppliers``.
    """

    def __init__(self) -> None:
        self.rows = Columns(PARTITION_COLUMNS)
        self.suppliers = Columns(SUPPLIER_COLUMNS)
        # by region bit and neutral similarity, until changed
        self.supplier_factors: dict[tuple[int | None, float], np.ndarray] = {}

    def position(self, slot: int) -> int:
        return int(np.searchsorted(self.rows.view("slot"), slot))

    def row_of(self, slot: int) -> int | None:
        """Return the row holding a slot, or None if the partition does not hold it."""
        row = self.position(slot)
        if slot >= 0 and row < self.rows.size and self.rows.view("slot")[row] == slot:
            return row
        return None

    def compact(self, renumber: np.ndarray) -> None:
        """Drop the rows of slots renumbered -1 and renumber the others."""
        slots = self.rows.view("slot")
        kept = np.flatnonzero(renumber[slots] >= 0)
        is_supplier = np.zeros(self.rows.size, dtype=bool)
        is_supplier[self.suppliers.view("row")] = True
        self.rows.keep(kept)
        self.rows.view("slot")[:] = renumber[self.rows.view("slot")]
        self.suppliers.keep(np.arange(0))
        self.suppliers.append({"row": np.flatnonzero(is_supplier[kept])})
        self.supplier_factors.clear()


def may_help(candidate: Candidate) -> bool:
    """Say whether a strong profile may be recommended at all (kind, approval, capacity)."""
    if candidate.capacity_to_support not in CAPACITY_FACTORS:
        return False
    return candidate.approved and candidate.kind in KINDS


class ProfileStore:
    """Slots, partitions and per-profile values of the indexed profiles."""

    def __init__(self) -> None:
        self.slots = Columns(SLOT_COLUMNS)
        self.text = TextIndex()
        self.partitions = [Partition() for _ in AREAS]
        self.ids: list[str | None] = []
        self.names: list[str] = []
        self.gss: list[str | None] = []
        self.evidence: dict[int, dict[str, tuple[str, ...]]] = {}
        self.served: dict[int, tuple[str, ...]] = {}
        self.slot_of: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.slot_of)

    def __contains__(self, profile_id: object) -> bool:
        return profile_id in self.slot_of

    def nbytes(self) -> int:
        """Return the bytes held in numpy arrays (Python lists and dicts not included)."""
        parts = sum(p.rows.nbytes() + p.suppliers.nbytes() for p in self.partitions)
        return self.slots.nbytes() + self.text.nbytes() + parts

    def add(self, batch: Sequence[Candidate], runs: np.ndarray, groups: np.ndarray,
            serves: Sequence[int], recommended: Sequence[int]) -> None:
        """Give each candidate (distinct profile ids, none stored) a new slot.

        ``runs`` (one row per candidate, one column per area) says whether a council runs each
        area; ``groups`` are the councils' groups (``NOT_A_COUNCIL`` for suppliers); ``serves``
        the bits of the regions a supplier serves; ``recommended`` the times each was recommended.
        A candidate is stored under the areas where it is strong, may help and runs the service
        (suppliers: every area where they are strong).
        """
        first = self.slots.size
        ratings = np.array([[c.ratings.get(a, 0) for a in AREAS] for c in batch], dtype=np.int8)
        weak = (ratings >= 1) & (ratings <= STRUGGLING_MAX) & runs
        struggles = weak.astype(np.uint16) @ AREA_BITS
        suppliers = np.array([c.kind == "supplier" for c in batch])
        indexable = (ratings >= STRONG_MIN) & np.array(
            [[may_help(c)] for c in batch]) & (runs | suppliers[:, None])
        self.slots.append({
            "alive": np.ones(len(batch), dtype=bool), "ratings": ratings,
            "kind": [KINDS.index(c.kind) if c.kind in KINDS else len(KINDS) for c in batch],
            "capacity": [CAPACITIES.index(c.capacity_to_support)
                         if c.capacity_to_support in CAPACITIES else 0 for c in batch],
            "group": groups, "struggles": struggles, "recommended": recommended,
            "improved": [area_bits(c.improved) for c in batch],
            "indexed": indexable.astype(np.uint16) @ AREA_BITS,
            "serves": serves, "serves_all": [not c.regions_served for c in batch],
            "source": [RATING_SOURCES.index(c.rating_source)
                       if c.rating_source in RATING_SOURCES else 0 for c in batch],
        })
        self._remember(first, batch)
        self.text.add([c.strengths_text for c in batch])
        self._index_partitions(first, suppliers, indexable, groups, struggles)

    def _remember(self, first: int, batch: Sequence[Candidate]) -> None:
        for i, candidate in enumerate(batch):
            self.slot_of[candidate.profile_id] = first + i
            if candidate.evidence:
                self.evidence[first + i] = candidate.evidence
            if candidate.kind == "supplier" and candidate.regions_served:
                self.served[first + i] = tuple(candidate.regions_served)
        self.ids += [c.profile_id for c in batch]
        self.names += [c.name for c in batch]
        self.gss += [c.gss_code for c in batch]

    def _index_partitions(self, first: int, suppliers: np.ndarray, indexable: np.ndarray,
                          groups: np.ndarray, struggles: np.ndarray) -> None:
        for area in np.flatnonzero(indexable.any(axis=0)).tolist():
            rows = np.flatnonzero(indexable[:, area])
            partition = self.partitions[area]
            start = partition.rows.append({
                "slot": first + rows,
                "weight": self.weights(first + rows, area),
                "group": np.where(suppliers[rows], NOT_A_COUNCIL, groups[rows]),
                "struggles": struggles[rows],
            })
            if suppliers[rows].any():
                partition.suppliers.append({"row": start + np.flatnonzero(suppliers[rows])})
                partition.supplier_factors.clear()

    def weights(self, slots: np.ndarray, area: int) -> np.ndarray:
        """Return strength x trajectory x capacity of slots in an area (0 if gone)."""
        columns = self.slots
        return weights(columns.view("ratings")[slots, area], columns.view("improved")[slots],
                       columns.view("capacity")[slots], columns.view("alive")[slots], area)

    def areas_of(self, slot: int) -> list[int]:
        """Return the areas (numbers in ``AREAS``) whose partitions hold a slot."""
        bits = int(self.slots.view("indexed")[slot])
        return [i for i in range(len(AREAS)) if bits >> i & 1]

    def tombstone(self, profile_id: str) -> None:
        """Mark a profile's slot dead (weight 0 in its partitions); a no-op if not stored."""
        slot = self.slot_of.pop(profile_id, None)
        if slot is None:
            return
        self.slots.view("alive")[slot] = False
        self._reweigh(slot)
        self.ids[slot] = None
        self.evidence.pop(slot, None)
        self.served.pop(slot, None)

    def _reweigh(self, slot: int) -> None:
        """Write a slot's current weight into each partition that holds it."""
        for area in self.areas_of(slot):
            partition = self.partitions[area]
            weight = self.weights(np.array([slot]), area)[0]
            partition.rows.view("weight")[partition.position(slot)] = weight

    def maybe_compact(self) -> None:
        """Drop dead slots once they outnumber the live profiles (and more than a few)."""
        dead = self.slots.size - len(self.slot_of)
        if dead > _COMPACT_AFTER and dead > len(self.slot_of):
            self.compact()

    def compact(self) -> None:
        """Drop dead slots, numbering the live ones from 0 in their order."""
        keep = np.flatnonzero(self.slots.view("alive"))
        renumber = np.full(self.slots.size, -1, dtype=np.int64)
        renumber[keep] = np.arange(len(keep))
        self.slots.keep(keep)
        self.text.keep(keep)
        self.ids = [self.ids[s] for s in keep.tolist()]
        self.names = [self.names[s] for s in keep.tolist()]
        self.gss = [self.gss[s] for s in keep.tolist()]
        self.evidence = {int(renumber[s]): e for s, e in self.evidence.items()}
        self.served = {int(renumber[s]): r for s, r in self.served.items()}
        self.slot_of = {pid: int(renumber[s]) for pid, s in self.slot_of.items()}
        for partition in self.partitions:
            partition.compact(renumber)
