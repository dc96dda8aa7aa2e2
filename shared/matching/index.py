"""Recommend partners strong where a council is weak and alike in circumstances.

``MatchIndex`` composes the pieces of the matching room:

- the score and the ranking (``partnermatch.shared.matching.scoring``: the formula, eligibility
  of areas, one partner per council, the diversity spread);
- the column store (``partnermatch.shared.matching.store``): profiles as flat numpy columns,
  partitioned by service area so a match reads only the rows of the area, with tombstones and
  compaction;
- saving and opening (``partnermatch.shared.matching.persistence``), which a machine's shared
  snapshot (``partnermatch.shared.matching.snapshot``) uses;
- the reasons given for each partner (``partnermatch.shared.matching.reasons``).

What it keeps itself is what ties them to the context model (``ContextModel``): council groups
(one per GSS code) and their context rows, each requester's similarity to every group (computed
once per council, a few hundred, not per profile), and the recommendation counts behind the
diversity spread. The counts come from the database
(``partnermatch.shared.recommendations.live_index``), so every worker ranks alike, and the order
is the same for the same state.

Eligibility is a hard rule: strong in the area, not the requester (by profile or by council), a kind
the requester seeks, cleared to take part (``Candidate.approved``: address confirmed, not rejected,
suppliers approved), councils of a type that delivers the area.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from partnermatch.shared.matching import persistence, scoring
from partnermatch.shared.matching.context import ContextModel
from partnermatch.shared.matching.reasons import RATING_SOURCES, partner_reasons
from partnermatch.shared.matching.scoring import (
    AREA,
    AREAS,
    CAPACITIES,
    CAPACITY_FACTORS,
    DIVERSITY_MARGIN,
    OTHER_REGION_RATIO,
    RECIPROCITY_BONUS,
    TEXT_FLOOR,
    TRAJECTORY_BONUS,
    UNKNOWN_CAPACITY,
)
from partnermatch.shared.matching.store import KINDS, NOT_A_COUNCIL, Partition, ProfileStore
from partnermatch.shared.reference.records import (
    Candidate,
    MatchRequest,
    NeedMatches,
    Partner,
    Place,
)
from partnermatch.shared.reference.taxonomy import delivers

__all__ = [
    "AREAS", "CAPACITIES", "CAPACITY_FACTORS", "DIVERSITY_MARGIN", "KINDS", "MODEL_VERSION",
    "OTHER_REGION_RATIO", "RECIPROCITY_BONUS", "TEXT_FLOOR", "TRAJECTORY_BONUS",
    "UNKNOWN_CAPACITY", "MatchIndex", "batched", "requester_key", "struggling_areas",
]

MODEL_VERSION = "context-census-7"
_MAX_REGIONS = 64
_NO_GROUP = -2
_BATCH = 8192
_ALIKE_CACHE = 200_000  # pairs of councils whose likeness reasons are remembered


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
        self._store = ProfileStore()
        self._group_rows = np.empty(0, dtype=np.int64)
        self._seen_version = -1

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, profile_id: object) -> bool:
        return profile_id in self._store

    def upsert(self, candidate: Candidate) -> None:
        """Add a profile, or replace its previous version."""
        self.extend([candidate])

    def extend(self, candidates: Iterable[Candidate]) -> None:
        """Add or replace many profiles, vectorising their texts in batches."""
        for batch in batched(candidates):
            latest = list({c.profile_id: c for c in batch}.values())
            for candidate in latest:
                self._store.tombstone(candidate.profile_id)
            self._add(latest)
        self._store.maybe_compact()

    def remove(self, profile_id: str) -> None:
        """Forget a profile (a no-op if it is not indexed)."""
        self._store.tombstone(profile_id)
        self._store.maybe_compact()

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
        column = self._store.slots.view("recommended")
        for profile_id, count in counts.items():
            self._counts[profile_id] = self._counts.get(profile_id, 0) + count
            slot = self._store.slot_of.get(profile_id)
            if slot is not None:
                column[slot] = self._counts[profile_id]
        for key, count in (own or {}).items():
            self._own_counts[key] = self._own_counts.get(key, 0) + count

    def set_recommended(self, counts: dict[str, int],
                        own: dict[tuple[str, str], int] | None = None) -> None:
        """Replace every count of recommendations (a full count from the database)."""
        self._counts, self._own_counts = {}, {}
        self._store.slots.view("recommended")[:] = 0
        self.add_recommended(counts, own)

    def recommended_counts(self) -> dict[str, int]:
        """Return how many times each profile was recommended by this index."""
        return dict(self._counts)

    def nbytes(self) -> int:
        """Return the bytes held in numpy arrays (Python lists and dicts not included)."""
        return self._store.nbytes()

    # -- saving and opening -------------------------------------------------------------------

    def save(self, folder: Path, spare: int) -> None:
        """Write the index to an empty folder, for ``MatchIndex.open`` in any process.

        Arrays go to ``.npy`` files with room for ``spare`` more profiles; the per-profile ids,
        names and reasons are encoded as arrays and small tables, so a process that opens the
        folder holds none of them as Python objects (``persistence``).
        """
        persistence.save(self._store, folder, spare, {
            "counts": self._counts, "groups": self._groups, "regions": self._regions})

    @classmethod
    def open(cls, folder: Path, context: ContextModel) -> MatchIndex:
        """Open an index saved by ``save``: its arrays are shared with every process that opens
        the folder until this one changes them (then only the pages written become private)."""
        index = cls(context)
        index._store, state = persistence.load(folder)
        index._counts, index._groups, index._regions = (
            state["counts"], state["groups"], state["regions"])
        return index

    # -- adding profiles -----------------------------------------------------------------------

    def _add(self, batch: list[Candidate]) -> None:
        """Store a batch with what the context model says of it: council types and groups."""
        types = [self._council_type(c) if c.kind == "council" else None for c in batch]
        runs = np.array([self._delivered_by(t) for t in types]).reshape(len(batch), len(AREAS))
        groups = np.array([self._group_of(c) for c in batch], dtype=np.int32)
        self._store.add(batch, runs, groups,
                        serves=[self._serves(c.regions_served) for c in batch],
                        recommended=[self._counts.get(c.profile_id, 0) for c in batch])

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

    def _group_of(self, candidate: Candidate) -> int:
        """Return the council's group (one per GSS code); suppliers have none."""
        if candidate.kind != "council":
            return NOT_A_COUNCIL
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
            own_slot=self._store.slot_of.get(request.profile_id, -1),
            region_bit=None if code is None else (1 << code if code < _MAX_REGIONS else 0),
            kinds=("council" in request.seeking, "supplier" in request.seeking),
            can_help=scoring.can_help(request.ratings, council_type),
            text=self._store.text.query(request.needs_text))

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
        partition = self._store.partitions[AREA[area]]
        scores = self._scores(query, area, partition)
        return self._partner_list(query, area, self._top(query, partition, scores, limit))

    def _scores(self, query: _Query, area: str, partition: Partition) -> np.ndarray:
        """Return every row's score before text: negative where the row is not eligible."""
        rows = partition.rows
        factor = self._context_table(query, area).take(rows.view("group"))
        if query.kinds[1] and partition.suppliers.size:
            factor[partition.suppliers.view("row")] = self._supplier_factors(query, area,
                                                                             partition)
        scores = scoring.scores_before_text(rows.view("weight"), factor, rows.view("struggles"),
                                            query.can_help)
        own = partition.row_of(query.own_slot)
        if own is not None:
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
        table = np.full(len(self._groups) + 1, self.context.neutral(area), dtype=np.float32)
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
            found = np.full(len(self._groups), self.context.neutral(area), dtype=np.float32)
            known = np.flatnonzero(self._group_rows >= 0)
            if known.size:
                found[known] = self.context.similarities_for_rows(
                    row, self._group_rows[known], area)
            self._similar[key] = found
        return self._similar[key]

    def _supplier_factors(self, query: _Query, area: str, partition: Partition) -> np.ndarray:
        """Return the factor of each supplier row of a partition, remembered per region."""
        neutral = self.context.neutral(area)
        found = partition.supplier_factors.get((query.region_bit, neutral))
        if found is None:
            if len(partition.supplier_factors) > _MAX_REGIONS:
                partition.supplier_factors.clear()
            slots = partition.rows.view("slot").take(partition.suppliers.view("row"))
            columns = self._store.slots
            found = partition.supplier_factors[query.region_bit, neutral] = \
                scoring.supplier_factors(columns.view("serves_all")[slots],
                                         columns.view("serves")[slots], query.region_bit, neutral)
        return found

    def _top(self, query: _Query, partition: Partition, scores: np.ndarray,
             limit: int) -> list[tuple[int, float]]:
        """Return the best (slot, score) pairs after text, one per council, the load spread."""
        groups, slots = partition.rows.view("group"), partition.rows.view("slot")
        count, has_text = len(self._groups), bool(query.text[0].size)
        pool = scoring.text_pool(scores, groups, partition.suppliers.view("row"), count, limit,
                                 has_text)
        if not pool.size:
            return []
        text = self._store.text
        cosines = (lambda rows: text.cosines(query.text, slots.take(rows))) if has_text else None
        rows, final = scoring.finals(pool, scores, groups, count, limit, cosines)
        final = np.minimum(final, 1.0).round(6)  # scores are never negative here
        ranked = scoring.one_per_council(final, groups[rows], slots[rows], count, limit,
                                         self._store.names, self._store.ids)
        return self._spread(ranked, limit, requester_key(query.request))

    def _spread(self, ranked: list[tuple[int, float]], limit: int,
                requester: str) -> list[tuple[int, float]]:
        """Spread the load (``scoring.spread``) by the times each partner was recommended to
        others than this requester."""
        if not self._counts:
            return ranked[:limit]
        counts, ids = self._store.slots.view("recommended"), self._store.ids
        own = self._own_counts
        loads = [int(counts[slot]) - own.get((requester, ids[slot]), 0) for slot, _ in ranked]
        return scoring.spread(ranked, loads, limit)

    def _partner_list(self, query: _Query, area: str,
                      chosen: list[tuple[int, float]]) -> tuple[Partner, ...]:
        """Return the chosen rows as partners with their reasons, reading each column once."""
        store = self._store
        slots = np.array([slot for slot, _ in chosen], dtype=np.int64)
        columns = store.slots
        facts = zip(columns.view("kind")[slots].tolist(),
                    columns.view("ratings")[slots, AREA[area]].tolist(),
                    columns.view("source")[slots].tolist(),
                    columns.view("capacity")[slots].tolist(),
                    (columns.view("struggles")[slots] & query.can_help).tolist(), strict=True)
        evidence = store.evidence or {}
        partners = []
        for (slot, score), (kind, rating, source, capacity, helpable) in zip(
                chosen, facts, strict=True):
            kind_name = KINDS[kind]
            alike = (self._context_reasons(query.place, store.gss[slot], area)
                     if query.place and kind_name == "council" else ())
            served = store.served.get(slot, ()) if kind_name == "supplier" else ()
            reasons = partner_reasons(
                area, kind_name, RATING_SOURCES[source], rating, CAPACITIES[capacity], helpable,
                evidence.get(slot, {}).get(area, ()), alike, served, query.region_name)
            partners.append(Partner(
                profile_id=store.ids[slot], name=store.names[slot], kind=kind_name,
                gss_code=store.gss[slot], score=score, strength_rating=rating, reasons=reasons))
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


def batched(items: Iterable[Candidate], size: int = _BATCH) -> Iterator[list[Candidate]]:
    """Yield lists of up to ``size`` items."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def struggling_areas(request: MatchRequest, council_type: str | None) -> list[tuple[str, int]]:
    """Return the areas the requester struggles with, weakest first (``scoring``)."""
    return scoring.struggling_areas(request.ratings, council_type)
