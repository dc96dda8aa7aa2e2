"""Recommend partners strong where a council is weak and alike in circumstances.

For each service area the requester rates 1 or 2 (weakest first), every eligible candidate scores

    strength x trajectory x context x text x capacity x reciprocity, clipped to 0..1

- strength: rating 4 -> 0.5, 5 -> 1.0;
- trajectory: 1.1 when the partner recently improved in the area from weak to strong (Ofsted
  inadequate or requires improvement, then good or outstanding): it knows the way out;
- context: ``ContextModel`` similarity for councils (0.5, a typical pair, when either place is
  unknown); for suppliers 0.5 if they work everywhere or in the requester's region, else 0.3;
- text: 0.75 + 0.25 x cosine of hashed, sublinear term frequencies (needs against strengths), so
  words nudge the ranking but never veto a partner; hashing keeps updates incremental;
- capacity: available 1.0, limited 0.8; a profile with no capacity is not recommended at all, since
  asking a council that has said it cannot help only wastes both councils' time; unknown 0.7, for
  councils recommended from public data that have not joined and so never offered help: they rank
  below an equally strong council that joined and did, and carry no capacity reason;
- reciprocity: 1.1 when the requester is strong in an area the partner council runs and struggles
  in, so the help can flow both ways;
- diversity, which never changes a score: partners whose scores are within ``DIVERSITY_MARGIN``
  (2%) of the best one left are put in order of how often they have been recommended (fewest
  first), so the same few councils are not sent to everyone, yet a partner is never placed after
  one that scores more than 2% less. The counts come from the database
  (``partnermatch.shared.recommendations.live_index``), so every worker ranks alike, and the order
  is the same for the same state.

Eligibility is a hard rule: strong in the area, not the requester (by profile or by council), a kind
the requester seeks, cleared to take part (``Candidate.approved``: address confirmed, not rejected,
suppliers approved), councils of a type that delivers the area. Each council appears once per need
(its best profile). Ties are broken by name, then profile id.

The index is partitioned by service area: a profile is stored under the areas where it may be
recommended, as flat numpy columns, so a match reads only those rows. Context is computed once per
council (a few hundred), not per profile, and text cosines only for the rows whose score could
still reach the top: text can lower a score by a quarter at most, so rows whose best case falls
below the worst case of the k-th best council are skipped without changing the result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from partnermatch.shared.matching.columns import Columns, FrozenDict, FrozenList, mapped
from partnermatch.shared.matching.context import ContextModel
from partnermatch.shared.matching.reasons import (
    NOT_JOINED,
    PUBLIC_DATA,
    RATING_SOURCES,
    capacity_reason,
    rating_reason,
    reciprocity_reason,
    region_reasons,
)
from partnermatch.shared.matching.text import TextIndex
from partnermatch.shared.reference.records import (
    Candidate,
    MatchRequest,
    NeedMatches,
    Partner,
    Place,
)
from partnermatch.shared.reference.taxonomy import (
    SERVICE_AREAS,
    STRONG_MIN,
    STRUGGLING_MAX,
    areas_delivered_by,
    delivers,
)

MODEL_VERSION = "context-census-4"
NEUTRAL_SIMILARITY = 0.5
# A supplier has no place to compare, so it scores like a typical pair of councils (similarity
# 0.5) when it works in the requester's region, less when it does not: otherwise suppliers would
# crowd every council out of the list.
SUPPLIER_IN_REGION_FACTOR = NEUTRAL_SIMILARITY
OTHER_REGION_FACTOR = 0.3
UNKNOWN_CAPACITY = "unknown"  # never said: a council recommended from public data
CAPACITIES = ("none", "limited", "available", UNKNOWN_CAPACITY)
CAPACITY_FACTORS = {"available": 1.0, "limited": 0.8, UNKNOWN_CAPACITY: 0.7}
_CAPACITY_FACTOR = np.array([CAPACITY_FACTORS.get(c, 0.0) for c in CAPACITIES], dtype=np.float32)
RECIPROCITY_BONUS = 1.1
TRAJECTORY_BONUS = 1.1
TEXT_FLOOR = 0.75
DIVERSITY_MARGIN = 0.02
_WITHIN_MARGIN = 1.0 - DIVERSITY_MARGIN
KINDS = ("council", "supplier")
AREAS = tuple(SERVICE_AREAS)
_AREA = {area: i for i, area in enumerate(AREAS)}
_BITS = (1 << np.arange(len(AREAS))).astype(np.uint16)
_MAX_REGIONS = 64
_NOT_A_COUNCIL = -1  # the group of suppliers in a partition: context comes from their regions
_NO_GROUP = -2
_BATCH = 8192
_ALIKE_CACHE = 200_000  # pairs of councils whose likeness reasons are remembered
_FIRST_TEXT_BLOCK = 256  # rows whose text is scored before checking whether to stop
_SLOT_COLUMNS = {
    "alive": (bool, ()), "kind": (np.int8, ()), "ratings": (np.int8, (len(AREAS),)),
    "capacity": (np.int8, ()), "group": (np.int32, ()), "recommended": (np.int32, ()),
    "struggles": (np.uint16, ()), "improved": (np.uint16, ()), "indexed": (np.uint16, ()),
    "serves": (np.uint64, ()), "serves_all": (bool, ()), "source": (np.int8, ()),
}
_PARTITION_COLUMNS = {
    "slot": (np.int64, ()), "weight": (np.float32, ()), "group": (np.int64, ()),
    "struggles": (np.uint16, ()),
}


class _Partition:
    """The profiles that may be recommended for one service area, in slot order.

    ``weight`` is strength x trajectory x capacity (0 once the profile is gone);
    ``group`` is the council's group, or ``_NOT_A_COUNCIL`` for suppliers, listed in ``suppliers``.
    """

    def __init__(self) -> None:
        self.rows = Columns(_PARTITION_COLUMNS)
        self.suppliers = Columns({"row": (np.int64, ())})
        self.supplier_factors: dict[int | None, np.ndarray] = {}  # by region bit, until changed

    def position(self, slot: int) -> int:
        return int(np.searchsorted(self.rows.view("slot"), slot))


@dataclass(frozen=True)
class _Query:
    """What one match request needs, computed once for all its service areas."""

    request: MatchRequest
    place: Place | None
    row: int | None
    council_type: str | None  # None unless the requester is a council of a known type
    region_name: str | None
    group: int
    own_slot: int
    region_bit: int | None  # None when the requester's region is unknown
    kinds: tuple[bool, bool]  # seeks councils, seeks suppliers
    can_help: int  # bits of the areas where the requester is strong and delivers the service
    text: tuple[np.ndarray, np.ndarray]
    tables: dict = field(default_factory=dict)  # context tables, one per weight set


def requester_key(request: MatchRequest) -> str:
    """Who a request is for, when counting the recommendations made to it: its council, so
    that every profile of one council is ranked alike, or else the profile itself."""
    return request.gss_code or request.profile_id


class MatchIndex:
    """An incremental index of candidate profiles, matched against one request at a time."""

    def __init__(self, context: ContextModel) -> None:
        self.context = context
        self._counts: dict[str, int] = {}
        # recommendations made to each requester (its council, or itself), which its own
        # ranking leaves out: a council asking again is ranked as if it had not asked before
        self._own_counts: dict[tuple[str, str], int] = {}
        self._groups: dict[str, int] = {}
        self._regions: dict[str, int] = {}
        self._delivered: dict[str | None, np.ndarray] = {}
        self._alike: dict[tuple[str, str | None, int, int], tuple[str, ...]] = {}
        self._similar: dict[tuple[int, int], np.ndarray] = {}
        self._similar_stamp: tuple[int, int] = (-1, -1)
        self._reset()

    def _reset(self) -> None:
        self._slots = Columns(_SLOT_COLUMNS)
        self._text = TextIndex()
        self._partitions = [_Partition() for _ in AREAS]
        self._ids: list[str | None] = []
        self._names: list[str] = []
        self._gss: list[str | None] = []
        self._evidence: dict[int, dict[str, tuple[str, ...]]] = {}
        self._served: dict[int, tuple[str, ...]] = {}
        self._slot_of: dict[str, int] = {}
        self._group_rows = np.empty(0, dtype=np.int64)
        self._seen_version = -1

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, profile_id: object) -> bool:
        return profile_id in self._slot_of

    def upsert(self, candidate: Candidate) -> None:
        """Add a profile, or replace its previous version."""
        self.extend([candidate])

    def extend(self, candidates: Iterable[Candidate]) -> None:
        """Add or replace many profiles, vectorising their texts in batches."""
        for batch in batched(candidates):
            latest = list({c.profile_id: c for c in batch}.values())
            for candidate in latest:
                self._tombstone(candidate.profile_id)
            self._add(latest)
        self._maybe_compact()

    def remove(self, profile_id: str) -> None:
        """Forget a profile (a no-op if it is not indexed)."""
        self._tombstone(profile_id)
        self._maybe_compact()

    def record_recommended(self, profile_ids: Iterable[str],
                           requester: str | None = None) -> None:
        """Count a recommendation of each profile, so later requests spread the load.

        ``requester`` (``requester_key`` of the request) is left out of its own later rankings.
        """
        counts: dict[str, int] = {}
        for profile_id in profile_ids:
            counts[profile_id] = counts.get(profile_id, 0) + 1
        own = {(requester, p): n for p, n in counts.items()} if requester else None
        self.add_recommended(counts, own)

    def add_recommended(self, counts: dict[str, int],
                        own: dict[tuple[str, str], int] | None = None) -> None:
        """Add to the times each profile has been recommended (counted in the database), and
        to the times each was recommended to each requester (``own``)."""
        column = self._slots.view("recommended")
        for profile_id, count in counts.items():
            self._counts[profile_id] = self._counts.get(profile_id, 0) + count
            slot = self._slot_of.get(profile_id)
            if slot is not None:
                column[slot] = self._counts[profile_id]
        for key, count in (own or {}).items():
            self._own_counts[key] = self._own_counts.get(key, 0) + count

    def set_recommended(self, counts: dict[str, int],
                        own: dict[tuple[str, str], int] | None = None) -> None:
        """Replace every count of recommendations (a full count from the database)."""
        self._counts, self._own_counts = {}, {}
        self._slots.view("recommended")[:] = 0
        self.add_recommended(counts, own)

    def recommended_counts(self) -> dict[str, int]:
        """Return how many times each profile was recommended by this index."""
        return dict(self._counts)

    def nbytes(self) -> int:
        """Return the bytes held in numpy arrays (Python lists and dicts not included)."""
        parts = sum(p.rows.nbytes() + p.suppliers.nbytes() for p in self._partitions)
        return self._slots.nbytes() + self._text.nbytes() + parts

    # -- saving and opening -------------------------------------------------------------------

    def save(self, folder: Path, spare: int) -> None:
        """Write the index to an empty folder, for ``MatchIndex.open`` in any process.

        Arrays go to ``.npy`` files with room for ``spare`` more profiles; the per-profile ids,
        names and reasons are encoded as arrays and small tables, so a process that opens the
        folder holds none of them as Python objects.
        """
        sizes = {"slots": self._slots.save(folder, "slots", spare),
                 **self._text.save(folder, spare)}
        for area, partition in enumerate(self._partitions):
            sizes[f"{area}.rows"] = partition.rows.save(folder, f"{area}.rows", spare)
            sizes[f"{area}.suppliers"] = partition.suppliers.save(
                folder, f"{area}.suppliers", spare)
        ids = [(pid or "").encode() for pid in self._ids]
        np.save(folder / "ids.npy", np.array(ids or [b""], dtype=bytes)[: len(ids)])
        keys = np.array([pid.encode() for pid in self._slot_of] or [b""], dtype=bytes)
        order = np.argsort(keys[: len(self._slot_of)], kind="stable")
        np.save(folder / "slot_of.keys.npy", keys[order])
        np.save(folder / "slot_of.slots.npy",
                np.array(list(self._slot_of.values()), dtype=np.int64)[order])
        tables = {}
        for name, values in (("names", self._names), ("gss", self._gss)):
            tables[name], codes = _interned(values, lambda value: value)
            np.save(folder / f"{name}.npy", codes)
        for name, values, key in (("evidence", self._evidence, _evidence_key),
                                  ("served", self._served, lambda value: value)):
            slots = np.array(sorted(values), dtype=np.int64)
            tables[name], codes = _interned([values[s] for s in slots.tolist()], key)
            np.save(folder / f"{name}.slots.npy", slots)
            np.save(folder / f"{name}.codes.npy", codes)
        state = {"sizes": sizes, "tables": tables, "counts": self._counts,
                 "groups": self._groups, "regions": self._regions}
        (folder / "index.json").write_text(json.dumps(state))

    @classmethod
    def open(cls, folder: Path, context: ContextModel) -> MatchIndex:
        """Open an index saved by ``save``: its arrays are shared with every process that opens
        the folder until this one changes them (then only the pages written become private)."""
        state = json.loads((folder / "index.json").read_text())
        index, sizes, tables = cls(context), state["sizes"], state["tables"]
        tables["evidence"] = [{area: tuple(lines) for area, lines in evidence.items()}
                              for evidence in tables["evidence"]]
        tables["served"] = [tuple(regions) for regions in tables["served"]]
        index._counts, index._groups, index._regions = (
            state["counts"], state["groups"], state["regions"])
        index._slots = Columns.open(_SLOT_COLUMNS, folder, "slots", sizes["slots"])
        index._text = TextIndex.open(folder, sizes)
        for area, partition in enumerate(index._partitions):
            partition.rows = Columns.open(_PARTITION_COLUMNS, folder, f"{area}.rows",
                                          sizes[f"{area}.rows"])
            partition.suppliers = Columns.open({"row": (np.int64, ())}, folder,
                                               f"{area}.suppliers", sizes[f"{area}.suppliers"])
        index._ids = FrozenList(mapped(folder / "ids.npy"), bytes.decode)
        keys = mapped(folder / "slot_of.keys.npy")
        index._slot_of = FrozenDict(keys, mapped(folder / "slot_of.slots.npy"),
                                    encode=_id_encoder(keys.dtype.itemsize),
                                    decode_key=bytes.decode, decode=int)
        index._names = FrozenList(mapped(folder / "names.npy"), tables["names"].__getitem__)
        index._gss = FrozenList(mapped(folder / "gss.npy"), tables["gss"].__getitem__)
        index._evidence, index._served = (
            FrozenDict(mapped(folder / f"{name}.slots.npy"),
                       mapped(folder / f"{name}.codes.npy"), encode=int, decode_key=int,
                       decode=tables[name].__getitem__) for name in ("evidence", "served"))
        return index

    def _areas_of(self, slot: int) -> list[int]:
        bits = int(self._slots.view("indexed")[slot])
        return [i for i in range(len(AREAS)) if bits >> i & 1]

    def _reweigh(self, slot: int) -> None:
        """Write a slot's current weight into each partition that holds it."""
        for area in self._areas_of(slot):
            partition = self._partitions[area]
            weight = self._weights(np.array([slot]), area)[0]
            partition.rows.view("weight")[partition.position(slot)] = weight

    def _weights(self, slots: np.ndarray, area: int) -> np.ndarray:
        """Return strength x trajectory x capacity of slots in an area (0 if gone)."""
        columns = self._slots
        strength = np.clip((columns.view("ratings")[slots, area] - 3.0) / 2, 0.0, 1.0)
        improved = np.where(columns.view("improved")[slots] >> area & 1, TRAJECTORY_BONUS, 1.0)
        weight = strength * _CAPACITY_FACTOR[columns.view("capacity")[slots]] * improved
        return np.where(columns.view("alive")[slots], weight, 0.0)

    def _tombstone(self, profile_id: str) -> None:
        slot = self._slot_of.pop(profile_id, None)
        if slot is None:
            return
        self._slots.view("alive")[slot] = False
        self._reweigh(slot)
        self._ids[slot] = None
        self._evidence.pop(slot, None)
        self._served.pop(slot, None)

    def _maybe_compact(self) -> None:
        """Drop deleted rows once they outnumber the live profiles."""
        dead = self._slots.size - len(self._slot_of)
        if dead > 1024 and dead > len(self._slot_of):
            self._compact()

    def _compact(self) -> None:
        keep = np.flatnonzero(self._slots.view("alive"))
        renumber = np.full(self._slots.size, -1, dtype=np.int64)
        renumber[keep] = np.arange(len(keep))
        self._slots.keep(keep)
        self._text.keep(keep)
        self._ids = [self._ids[s] for s in keep.tolist()]
        self._names = [self._names[s] for s in keep.tolist()]
        self._gss = [self._gss[s] for s in keep.tolist()]
        self._evidence = {int(renumber[s]): e for s, e in self._evidence.items()}
        self._served = {int(renumber[s]): r for s, r in self._served.items()}
        self._slot_of = {pid: int(renumber[s]) for pid, s in self._slot_of.items()}
        for partition in self._partitions:
            self._compact_partition(partition, renumber)

    @staticmethod
    def _compact_partition(partition: _Partition, renumber: np.ndarray) -> None:
        slots = partition.rows.view("slot")
        kept = np.flatnonzero(renumber[slots] >= 0)
        is_supplier = np.zeros(partition.rows.size, dtype=bool)
        is_supplier[partition.suppliers.view("row")] = True
        partition.rows.keep(kept)
        partition.rows.view("slot")[:] = renumber[partition.rows.view("slot")]
        partition.suppliers.keep(np.arange(0))
        partition.suppliers.append({"row": np.flatnonzero(is_supplier[kept])})
        partition.supplier_factors.clear()

    # -- adding profiles -----------------------------------------------------------------------

    def _add(self, batch: list[Candidate]) -> None:
        first = self._slots.size
        types = [self._council_type(c) if c.kind == "council" else None for c in batch]
        ratings = np.array([[c.ratings.get(a, 0) for a in AREAS] for c in batch], dtype=np.int8)
        runs = np.array([self._delivered_by(t) for t in types]).reshape(len(batch), len(AREAS))
        struggles = ((ratings >= 1) & (ratings <= STRUGGLING_MAX) & runs).astype(np.uint16) @ _BITS
        indexable = (ratings >= STRONG_MIN) & np.array(
            [[self._may_help(c)] for c in batch]) & (runs | self._suppliers_mask(batch))
        groups = np.array([self._group_of(first + i, c) for i, c in enumerate(batch)],
                          dtype=np.int32)
        self._slots.append({
            "alive": np.ones(len(batch), dtype=bool), "ratings": ratings,
            "kind": [KINDS.index(c.kind) if c.kind in KINDS else len(KINDS) for c in batch],
            "capacity": [CAPACITIES.index(c.capacity_to_support)
                         if c.capacity_to_support in CAPACITIES else 0 for c in batch],
            "group": groups, "struggles": struggles,
            "recommended": [self._counts.get(c.profile_id, 0) for c in batch],
            "improved": [_bits(c.improved) for c in batch],
            "indexed": indexable.astype(np.uint16) @ _BITS,
            "serves": [self._serves(c.regions_served) for c in batch],
            "serves_all": [not c.regions_served for c in batch],
            "source": [RATING_SOURCES.index(c.rating_source)
                       if c.rating_source in RATING_SOURCES else 0 for c in batch],
        })
        self._remember(first, batch)
        self._text.add([c.strengths_text for c in batch])
        self._index_partitions(first, batch, indexable, groups, struggles)

    def _remember(self, first: int, batch: list[Candidate]) -> None:
        for i, candidate in enumerate(batch):
            self._slot_of[candidate.profile_id] = first + i
            if candidate.evidence:
                self._evidence[first + i] = candidate.evidence
            if candidate.kind == "supplier" and candidate.regions_served:
                self._served[first + i] = tuple(candidate.regions_served)
        self._ids += [c.profile_id for c in batch]
        self._names += [c.name for c in batch]
        self._gss += [c.gss_code for c in batch]

    def _index_partitions(self, first: int, batch: list[Candidate], indexable: np.ndarray,
                          groups: np.ndarray, struggles: np.ndarray) -> None:
        suppliers = np.array([c.kind == "supplier" for c in batch])
        for area in np.flatnonzero(indexable.any(axis=0)).tolist():
            rows = np.flatnonzero(indexable[:, area])
            partition = self._partitions[area]
            start = partition.rows.append({
                "slot": first + rows,
                "weight": self._weights(first + rows, area),
                "group": np.where(suppliers[rows], _NOT_A_COUNCIL, groups[rows]),
                "struggles": struggles[rows],
            })
            if suppliers[rows].any():
                partition.suppliers.append({"row": start + np.flatnonzero(suppliers[rows])})
                partition.supplier_factors.clear()

    @staticmethod
    def _may_help(candidate: Candidate) -> bool:
        """Say whether a strong profile may be recommended at all (kind, approval, capacity)."""
        if candidate.capacity_to_support not in CAPACITY_FACTORS:
            return False
        return candidate.approved and candidate.kind in KINDS

    @staticmethod
    def _suppliers_mask(batch: list[Candidate]) -> np.ndarray:
        return np.array([[c.kind == "supplier"] for c in batch])

    def _delivered_by(self, council_type: str | None) -> np.ndarray:
        if council_type not in self._delivered:
            self._delivered[council_type] = np.array(
                [bool(council_type) and delivers(council_type, a) for a in AREAS])
        return self._delivered[council_type]

    def _serves(self, regions: Iterable[str]) -> int:
        bits = 0
        for region in regions:
            code = self._regions.setdefault(region, len(self._regions))
            if code < _MAX_REGIONS:
                bits |= 1 << code
        return bits

    def _council_type(self, candidate: Candidate) -> str | None:
        place = self._place(candidate.gss_code)
        return candidate.council_type or (place.council_type if place else None)

    def _group_of(self, slot: int, candidate: Candidate) -> int:
        """Return the council's group (one per GSS code); suppliers have none."""
        if candidate.kind != "council":
            return _NOT_A_COUNCIL
        key = candidate.gss_code or f"profile:{candidate.profile_id}"
        if key not in self._groups:
            self._groups[key] = len(self._groups)
            self._seen_version = -1
        return self._groups[key]

    # -- matching ------------------------------------------------------------------------------

    def match(self, request: MatchRequest, limit: int = 10) -> list[NeedMatches]:
        """Recommend up to ``limit`` partners for each area the requester struggles with."""
        query = self._query(request)
        return [NeedMatches(area, rating, self._partners(query, area, limit))
                for area, rating in struggling_areas(request, query.council_type)]

    def _query(self, request: MatchRequest) -> _Query:
        self._refresh_group_rows()
        place = self._place(request.gss_code)
        council_type = request.council_type or (place.council_type if place else None)
        if request.kind != "council":
            council_type = None
        region = request.region or (place.region if place else None)
        code = self._regions.get(region, _MAX_REGIONS) if region else None
        return _Query(
            request=request, place=place, row=self.context.row(request.gss_code),
            council_type=council_type, region_name=region,
            group=self._groups.get(request.gss_code or "", _NO_GROUP),
            own_slot=self._slot_of.get(request.profile_id, -1),
            region_bit=None if code is None else (1 << code if code < _MAX_REGIONS else 0),
            kinds=("council" in request.seeking, "supplier" in request.seeking),
            can_help=_can_help(request, council_type),
            text=self._text.query(request.needs_text))

    def _place(self, gss_code: str | None) -> Place | None:
        return self.context.place(gss_code) if gss_code and gss_code in self.context else None

    def _refresh_group_rows(self) -> None:
        """Look up each council's context row again when the context model has changed."""
        if self._seen_version == self.context.version and len(self._group_rows) == len(
                self._groups):
            return
        rows = np.full(len(self._groups), -1, dtype=np.int64)
        for key, group in self._groups.items():
            row = self.context.row(key)
            rows[group] = -1 if row is None else row
        self._group_rows, self._seen_version = rows, self.context.version

    def _partners(self, query: _Query, area: str, limit: int) -> tuple[Partner, ...]:
        partition = self._partitions[_AREA[area]]
        scores = self._scores(query, area, partition)
        return self._partner_list(query, area, self._top(query, partition, scores, limit))

    def _scores(self, query: _Query, area: str, partition: _Partition) -> np.ndarray:
        """Return every row's score before text: negative where the row is not eligible."""
        rows = partition.rows
        factor = self._context_table(query, area).take(rows.view("group"))
        if query.kinds[1] and partition.suppliers.size:
            factor[partition.suppliers.view("row")] = self._supplier_factors(query, partition)
        scores = rows.view("weight") * factor
        if query.can_help:
            np.multiply(scores, RECIPROCITY_BONUS, out=scores,
                        where=(rows.view("struggles") & query.can_help) != 0)
        own = partition.position(query.own_slot)
        if query.own_slot >= 0 and own < rows.size and rows.view("slot")[own] == query.own_slot:
            scores[own] = -1.0
        return scores

    def _context_table(self, query: _Query, area: str) -> np.ndarray:
        """Return each council group's context factor, then one entry for suppliers (-1).

        Areas that share weights share a table, computed once per request.
        """
        key = self.context.weights_key(area)
        if key not in query.tables:
            query.tables[key] = self._new_context_table(query, area)
        return query.tables[key]

    def _new_context_table(self, query: _Query, area: str) -> np.ndarray:
        table = np.full(len(self._groups) + 1, NEUTRAL_SIMILARITY, dtype=np.float32)
        if query.row is not None:
            table[:-1] = self._similarities_to_groups(query.row, area)
        if not query.kinds[0]:
            table[:-1] = -1.0
        table[-1] = -1.0  # suppliers: overwritten per row when suppliers are sought
        if 0 <= query.group < len(self._groups):
            table[query.group] = -1.0
        return table

    def _similarities_to_groups(self, row: int, area: str) -> np.ndarray:
        """Return one place's similarity to each council group, remembered until either changes.

        There are only a few hundred places and a few weight sets, so every requester's row is
        computed once and reused by every later match from the same council.
        """
        stamp = (self.context.version, len(self._groups))
        if self._similar_stamp != stamp:
            self._similar.clear()
            self._similar_stamp = stamp
        key = (row, self.context.weights_key(area))
        if key not in self._similar:
            found = np.full(len(self._groups), NEUTRAL_SIMILARITY, dtype=np.float32)
            known = np.flatnonzero(self._group_rows >= 0)
            if known.size:
                found[known] = self.context.similarities_for_rows(
                    row, self._group_rows[known], area)
            self._similar[key] = found
        return self._similar[key]

    def _supplier_factors(self, query: _Query, partition: _Partition) -> np.ndarray:
        """Return the factor of each supplier row of a partition, remembered per region."""
        found = partition.supplier_factors.get(query.region_bit)
        if found is None:
            if len(partition.supplier_factors) > _MAX_REGIONS:
                partition.supplier_factors.clear()
            slots = partition.rows.view("slot").take(partition.suppliers.view("row"))
            found = partition.supplier_factors[query.region_bit] = self._supplier_factor(
                query, slots)
        return found

    def _supplier_factor(self, query: _Query, slots: np.ndarray) -> np.ndarray:
        if query.region_bit is None:
            return np.full(len(slots), SUPPLIER_IN_REGION_FACTOR, dtype=np.float32)
        served = self._slots.view("serves_all")[slots] | (
            (self._slots.view("serves")[slots] & np.uint64(query.region_bit)) != 0)
        return np.where(served, SUPPLIER_IN_REGION_FACTOR, OTHER_REGION_FACTOR)

    def _top(self, query: _Query, partition: _Partition, scores: np.ndarray,
             limit: int) -> list[tuple[int, float]]:
        """Return the best (slot, score) pairs after text, one per council."""
        groups = partition.rows.view("group")
        best = _best_per_council(groups, scores, len(self._groups))
        kth = _kth_best(best, scores.take(partition.suppliers.view("row")), limit)
        if kth <= 0:
            return []
        floor = TEXT_FLOOR if query.text[0].size else 1.0
        # a row is kept if its best case reaches the worst case of the limit-th council
        pool = np.flatnonzero(scores >= kth * floor * _WITHIN_MARGIN - 1e-6)
        rows, final = self._finals(query, partition, scores, pool, limit)
        final = np.minimum(final, 1.0).round(6)  # scores are never negative here
        return self._one_per_council(query, partition, rows, final, limit)

    def _finals(self, query: _Query, partition: _Partition, scores: np.ndarray,
                pool: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Score pool rows after text, best first, until no later row can reach the top.

        Text multiplies a score by 0.75 to 1, so once the next row's score (its best case) is
        below the limit-th best final score, no row after it can enter the list. Only the next
        block is put in order each time (a partition, then a sort of the block), not the pool.
        """
        if not query.text[0].size:
            return pool, scores[pool] * TEXT_FLOOR
        groups, slots = partition.rows.view("group"), partition.rows.view("slot")
        done, size, kth, parts = 0, _FIRST_TEXT_BLOCK, -np.inf, []
        finals = np.empty(0)
        while done < len(pool):
            rest = scores.take(pool[done:])
            # (never before the first block: kth is -inf)
            if done and rest.max() < kth * _WITHIN_MARGIN - 1e-6:
                break
            pool[done:] = _best_first(pool[done:], rest, size)
            rows = pool[done: done + size]
            cosines = self._text.cosines(query.text, slots.take(rows))
            parts.append(scores.take(rows) * (TEXT_FLOOR + (1 - TEXT_FLOOR) * cosines))
            done, size = done + len(rows), 2 * size
            finals = parts[0] if len(parts) == 1 else np.concatenate(parts)
            seen = groups.take(pool[:done])
            kth = _kth_best(_best_per_council(seen, finals, len(self._groups)),
                            finals[seen < 0], limit)
        return pool[:done], finals

    def _one_per_council(self, query: _Query, partition: _Partition, rows: np.ndarray,
                         final: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """Pick each council's best row, best first (ties by name, then profile id), spreading
        the load among partners within the margin (``_spread``)."""
        groups = partition.rows.view("group")[rows]
        best = _best_per_council(groups, final, len(self._groups))
        kth = _kth_best(best, final[groups < 0], limit)
        near = final >= kth * _WITHIN_MARGIN - 1e-6
        near &= (groups < 0) | (final >= np.append(best, 0.0)[groups])  # below its best: no
        slots = partition.rows.view("slot")[rows[near]].tolist()
        order = sorted(zip(final[near].tolist(), slots, groups[near].tolist(), strict=True),
                       key=lambda fsg: (-fsg[0], self._names[fsg[1]], self._ids[fsg[1]]))
        seen: set[int] = set()
        chosen = []
        for score, slot, group in order:
            entity = group if group >= 0 else -(slot + 1)
            if entity not in seen:
                seen.add(entity)
                chosen.append((slot, score))
        return self._spread(chosen, limit, requester_key(query.request))

    def _spread(self, ranked: list[tuple[int, float]], limit: int,
                requester: str) -> list[tuple[int, float]]:
        """Return ``limit`` partners: at each place, of those within the margin of the best one
        left, the one recommended least often to others (then the best, then as ranked)."""
        if not self._counts:
            return ranked[:limit]
        counts = self._slots.view("recommended")
        own = self._own_counts
        left = [(slot, score, int(counts[slot]) - own.get((requester, self._ids[slot]), 0), i)
                for i, (slot, score) in enumerate(ranked)]
        chosen = []
        while left and len(chosen) < limit:
            floor = left[0][1] * _WITHIN_MARGIN - 1e-9
            pick = min((entry for entry in left if entry[1] >= floor),
                       key=lambda entry: (entry[2], entry[3]))
            left.remove(pick)
            chosen.append((pick[0], pick[1]))
        return chosen

    def _partner_list(self, query: _Query, area: str,
                      chosen: list[tuple[int, float]]) -> tuple[Partner, ...]:
        """Return the chosen rows as partners with their reasons, reading each column once."""
        slots = np.array([slot for slot, _ in chosen], dtype=np.int64)
        columns, column = self._slots, _AREA[area]
        facts = zip(columns.view("kind")[slots].tolist(),
                    columns.view("ratings")[slots, column].tolist(),
                    columns.view("source")[slots].tolist(),
                    columns.view("capacity")[slots].tolist(),
                    (columns.view("struggles")[slots] & query.can_help).tolist(), strict=True)
        partners = []
        for (slot, score), (kind, rating, source, capacity, helpable) in zip(
                chosen, facts, strict=True):
            partners.append(Partner(
                profile_id=self._ids[slot], name=self._names[slot], kind=KINDS[kind],
                gss_code=self._gss[slot], score=score, strength_rating=rating,
                reasons=self._reasons(query, area, slot, KINDS[kind], (
                    RATING_SOURCES[source], rating, CAPACITIES[capacity], helpable))))
        return tuple(partners)

    def _context_reasons(self, place: Place, gss_code: str | None,
                         area: str) -> tuple[str, ...]:
        """Return how two councils are alike in what the area weighs, remembered per pair and
        weight set (places change rarely)."""
        key = (place.gss_code, gss_code, self.context.weights_key(area), self.context.version)
        if key not in self._alike:
            partner = self._place(gss_code)
            if len(self._alike) > _ALIKE_CACHE:
                self._alike.clear()
            self._alike[key] = self.context.reasons(place, partner, area) if partner else ()
        return self._alike[key]

    def _reasons(self, query: _Query, area: str, slot: int, kind: str,
                 facts: tuple[str, int, str, int]) -> tuple[str, ...]:
        source, rating, capacity, helpable = facts
        reasons = [NOT_JOINED] if source == PUBLIC_DATA else []
        reasons.append(_rating_reason(source, rating, area))
        if self._evidence:
            reasons += self._evidence.get(slot, {}).get(area, ())
        if query.place and kind == "council":
            reasons += self._context_reasons(query.place, self._gss[slot], area)
        if capacity_line := _capacity_reason(capacity):
            reasons.append(capacity_line)
        if helpable:
            reasons.append(_reciprocity_reason(helpable))
        if kind == "supplier":
            reasons += _region_reasons(self._served.get(slot, ()), query.region_name)
        return tuple(reasons)


@cache
def _rating_reason(source: str, rating: int, area: str) -> str:
    return rating_reason(source, rating, area)


@cache
def _capacity_reason(capacity: str) -> str | None:
    return capacity_reason(capacity)


@cache
def _reciprocity_reason(helpable: int) -> str | None:
    return reciprocity_reason([a for i, a in enumerate(AREAS) if helpable >> i & 1])


@lru_cache(maxsize=4096)
def _region_reasons(served: tuple[str, ...], region: str | None) -> tuple[str, ...]:
    return tuple(region_reasons(served, region))


def _best_per_council(groups: np.ndarray, scores: np.ndarray, count: int) -> np.ndarray:
    """Return each of ``count`` council groups' best score (0 if none); suppliers left out."""
    best = np.zeros(count + 1, dtype=scores.dtype)
    np.maximum.at(best, groups, scores)  # suppliers (-1) land in the extra last entry
    return best[:-1]


def _best_first(rows: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Return rows (ascending) with the ``count`` of highest value first, in order (ties by row),
    then the others in ascending order."""
    if count >= len(rows):
        return rows[np.argsort(-values, kind="stable")]
    head = np.argpartition(-values, count - 1)[:count]
    rest = np.ones(len(rows), dtype=bool)
    rest[head] = False
    head.sort()  # by row, so that the stable sort breaks ties by row
    head = head[np.argsort(-values[head], kind="stable")]
    return np.concatenate([rows[head], rows[rest]])


def _kth_best(best: np.ndarray, supplier_scores: np.ndarray, limit: int) -> float:
    """Return the limit-th best positive score among councils' bests and suppliers."""
    entities = np.concatenate([best, supplier_scores])
    entities = entities[entities > 0]
    if entities.size <= limit:
        return float(entities.min()) if entities.size else 0.0
    return float(np.partition(entities, -limit)[-limit])


def _interned(values: Iterable[Any], key: Callable[[Any], Hashable]) -> tuple[list, np.ndarray]:
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


def _id_encoder(width: int) -> Callable[[str], bytes | None]:
    """Return a profile id as the bytes stored for it (None if it is too long to be stored)."""
    def encode(profile_id: str) -> bytes | None:
        encoded = profile_id.encode() if isinstance(profile_id, str) else None
        return encoded if encoded is not None and len(encoded) <= width else None
    return encode


def _bits(areas: Iterable[str]) -> int:
    return sum(1 << _AREA[a] for a in set(areas) if a in _AREA)


def batched(items: Iterable[Candidate], size: int = _BATCH) -> Iterator[list[Candidate]]:
    """Yield lists of up to ``size`` items."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def struggling_areas(request: MatchRequest, council_type: str | None) -> list[tuple[str, int]]:
    """Return the areas the requester struggles with, weakest first.

    A council's rating for a service its tier does not run is not a need (a district rating
    itself 1 for adult social care has nothing to improve there).
    """
    delivered = _AREA if council_type is None else areas_delivered_by(council_type)
    needs = [(area, rating) for area, rating in request.ratings.items()
             if area in _AREA and 1 <= rating <= STRUGGLING_MAX and area in delivered]
    return sorted(needs, key=lambda ar: (ar[1], _AREA[ar[0]]))


def _can_help(request: MatchRequest, council_type: str | None) -> int:
    """Return the bits of the areas where a council requester is strong and delivers the area."""
    if council_type is None:
        return 0
    delivered = areas_delivered_by(council_type)
    return _bits(area for area, rating in request.ratings.items()
                 if rating >= STRONG_MIN and area in delivered)
