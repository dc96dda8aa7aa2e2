"""Recommend partners strong where a council is weak and alike in circumstances.

For each service area the requester rates 1 or 2 (weakest first), every eligible candidate scores

    strength x context x text x capacity x reciprocity x diversity, clipped to 0..1

- strength: rating 4 -> 0.5, 5 -> 1.0;
- context: ``ContextModel`` similarity for councils (0.5, a typical pair, when either place is
  unknown); for suppliers 1.0 if they work everywhere or in the requester's region, else 0.6;
- text: 0.75 + 0.25 x cosine of hashed, sublinear term frequencies (needs against strengths), so
  words nudge the ranking but never veto a partner; hashing keeps updates incremental;
- capacity: available 1.0, limited 0.8; a profile with no capacity is not recommended at all, since
  asking a council that has said it cannot help only wastes both councils' time;
- reciprocity: 1.1 when the requester is strong in an area the partner council runs and struggles
  in, so the help can flow both ways;
- diversity: 1 / (1 + 0.05 x times recommended by this index), never below 0.5, so the same few
  councils are not sent to everyone while strength and fit still decide the order.

Eligibility is a hard rule: strong in the area, not the requester (by profile or by council), a kind
the requester seeks, suppliers approved, councils of a type that delivers the area. Each council
appears once per need (its best profile). Ties are broken by name, then profile id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

from shared.context import ContextModel, context_reasons
from shared.records import Candidate, MatchRequest, NeedMatches, Partner, Place
from shared.taxonomy import SERVICE_AREAS, STRONG_MIN, STRUGGLING_MAX, delivers

MODEL_VERSION = "context-strength-1"
NEUTRAL_SIMILARITY = 0.5
# A supplier has no place to compare, so it scores like a typical pair of councils (similarity
# 0.5) when it works in the requester's region, less when it does not: otherwise suppliers would
# crowd every council out of the list.
SUPPLIER_IN_REGION_FACTOR = NEUTRAL_SIMILARITY
OTHER_REGION_FACTOR = 0.3
CAPACITY_FACTORS = {"available": 1.0, "limited": 0.8}
RECIPROCITY_BONUS = 1.1
TEXT_FLOOR = 0.75
DIVERSITY_RATE = 0.05
DIVERSITY_FLOOR = 0.5
KINDS = ("council", "supplier")
AREAS = tuple(SERVICE_AREAS)
_AREA = {area: i for i, area in enumerate(AREAS)}
_NO_GROUP = np.iinfo(np.int64).min


class _Growable:
    """A one-dimensional array with amortised O(1) append."""

    def __init__(self, dtype: type) -> None:
        self._data = np.empty(8, dtype=dtype)
        self.size = 0

    def append(self, value: float) -> None:
        if self.size == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self.size] = value
        self.size += 1

    def view(self) -> np.ndarray:
        return self._data[: self.size]


class _TextIndex:
    """An inverted index of l2-normalised, sublinear hashed term frequencies."""

    def __init__(self) -> None:
        self._vectoriser = HashingVectorizer(
            n_features=2**20, alternate_sign=False, stop_words="english", ngram_range=(1, 2),
            norm=None)
        self._postings: dict[int, tuple[_Growable, _Growable]] = {}

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the hashed terms of a text and their weights."""
        counts = self._vectoriser.transform([text or ""])
        weights = 1.0 + np.log(counts.data)
        norm = np.linalg.norm(weights)
        return counts.indices, (weights / norm if norm else weights)

    def add(self, slot: int, text: str) -> None:
        for term, weight in zip(*self.vector(text), strict=True):
            slots, weights = self._postings.setdefault(
                int(term), (_Growable(np.int64), _Growable(np.float64)))
            slots.append(slot)
            weights.append(weight)

    def cosines(self, text: str, size: int) -> np.ndarray:
        """Return the cosine between a text and every slot's text."""
        found = [(self._postings[int(t)], w) for t, w in zip(*self.vector(text), strict=True)
                 if int(t) in self._postings]
        if not found:
            return np.zeros(size)
        slots = np.concatenate([p[0].view() for p, _ in found])
        weights = np.concatenate([p[1].view() * w for p, w in found])
        return np.bincount(slots, weights=weights, minlength=size)[:size]


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
    region: int | None
    kinds: np.ndarray  # allowed, indexed by kind code
    can_help: np.ndarray  # areas where the requester is strong and delivers the service
    cosines: np.ndarray


class MatchIndex:
    """An incremental index of candidate profiles, matched against one request at a time."""

    _PER_SLOT = ("_alive", "_kind", "_ratings", "_delivers", "_capacity", "_group", "_diversity",
                 "_serves", "_serves_all")

    def __init__(self, context: ContextModel) -> None:
        self.context = context
        self._counts: dict[str, int] = {}
        self._reset()

    def _reset(self) -> None:
        self._slots: list[Candidate | None] = []
        self._slot_of: dict[str, int] = {}
        self._groups: dict[str, int] = {}
        self._group_rows = np.empty(0, dtype=np.int64)
        self._seen_version = -1
        self._regions: dict[str, int] = {}
        self._area_slots = [_Growable(np.int64) for _ in AREAS]
        self._text = _TextIndex()
        self._alive = np.zeros(64, dtype=bool)
        self._kind = np.zeros(64, dtype=np.int8)
        self._ratings = np.zeros((64, len(AREAS)), dtype=np.int8)
        self._delivers = np.zeros((64, len(AREAS)), dtype=bool)
        self._capacity = np.zeros(64)
        self._group = np.zeros(64, dtype=np.int64)
        self._diversity = np.ones(64)
        self._serves = np.zeros((64, 16), dtype=bool)
        self._serves_all = np.zeros(64, dtype=bool)

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, profile_id: object) -> bool:
        return profile_id in self._slot_of

    def upsert(self, candidate: Candidate) -> None:
        """Add a profile, or replace its previous version."""
        self._tombstone(candidate.profile_id)
        slot = len(self._slots)
        if slot == len(self._alive):
            self._grow_slots()
        self._slots.append(candidate)
        self._slot_of[candidate.profile_id] = slot
        self._fill(slot, candidate)
        self._text.add(slot, candidate.strengths_text)

    def remove(self, profile_id: str) -> None:
        """Forget a profile (a no-op if it is not indexed)."""
        self._tombstone(profile_id)

    def record_recommended(self, profile_ids: Iterable[str]) -> None:
        """Count a recommendation of each profile, so later requests spread the load."""
        for profile_id in profile_ids:
            self._counts[profile_id] = self._counts.get(profile_id, 0) + 1
            if profile_id in self._slot_of:
                self._diversity[self._slot_of[profile_id]] = self._diversity_factor(profile_id)

    def _diversity_factor(self, profile_id: str) -> float:
        return max(DIVERSITY_FLOOR, 1.0 / (1.0 + DIVERSITY_RATE * self._counts.get(profile_id, 0)))

    def _tombstone(self, profile_id: str) -> None:
        slot = self._slot_of.pop(profile_id, None)
        if slot is None:
            return
        self._alive[slot] = False
        self._slots[slot] = None
        dead = len(self._slots) - len(self._slot_of)
        if dead > 1024 and dead > len(self._slot_of):
            self._compact()

    def _compact(self) -> None:
        """Rebuild without tombstones once they outnumber the live profiles."""
        live = [c for c in self._slots if c is not None]
        self._reset()
        for candidate in live:
            self.upsert(candidate)

    def _grow_slots(self) -> None:
        for name in self._PER_SLOT:
            old = getattr(self, name)
            new = np.zeros((2 * len(old), *old.shape[1:]), dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def _region_code(self, region: str) -> int:
        code = self._regions.setdefault(region, len(self._regions))
        if code >= self._serves.shape[1]:
            self._serves = np.hstack([self._serves, np.zeros_like(self._serves)])
        return code

    def _council_type(self, candidate: Candidate) -> str | None:
        place = self._place(candidate.gss_code)
        return candidate.council_type or (place.council_type if place else None)

    def _group_of(self, slot: int, candidate: Candidate) -> int:
        """Return the council's group (one per GSS code); suppliers are each their own group."""
        if candidate.kind != "council" or not candidate.gss_code:
            return -(slot + 1)
        if candidate.gss_code not in self._groups:
            self._groups[candidate.gss_code] = len(self._groups)
            self._seen_version = -1
        return self._groups[candidate.gss_code]

    def _fill(self, slot: int, candidate: Candidate) -> None:
        ratings = [candidate.ratings.get(area, 0) for area in AREAS]
        council_type = self._council_type(candidate) if candidate.kind == "council" else None
        runs = [bool(council_type) and delivers(council_type, area) for area in AREAS]
        self._alive[slot] = True
        self._kind[slot] = KINDS.index(candidate.kind) if candidate.kind in KINDS else len(KINDS)
        self._ratings[slot], self._delivers[slot] = ratings, runs
        self._capacity[slot] = CAPACITY_FACTORS.get(candidate.capacity_to_support, 0.0)
        self._group[slot] = self._group_of(slot, candidate)
        self._diversity[slot] = self._diversity_factor(candidate.profile_id)
        self._serves_all[slot] = not candidate.regions_served
        for region in candidate.regions_served:
            self._serves[slot, self._region_code(region)] = True
        for i, rating in enumerate(ratings):
            if rating >= STRONG_MIN and self._may_help_with(candidate, runs[i]):
                self._area_slots[i].append(slot)

    def _may_help_with(self, candidate: Candidate, runs_area: bool) -> bool:
        """Say whether a strong profile may be recommended: the eligibility rules fixed per slot."""
        if candidate.capacity_to_support not in CAPACITY_FACTORS:
            return False
        if candidate.kind == "supplier":
            return candidate.approved
        return candidate.kind == "council" and runs_area

    def match(self, request: MatchRequest, limit: int = 10) -> list[NeedMatches]:
        """Recommend up to ``limit`` partners for each area the requester struggles with."""
        query = self._query(request)
        return [NeedMatches(area, rating, self._partners(query, area, limit))
                for area, rating in _needs(request, query.council_type)]

    def _query(self, request: MatchRequest) -> _Query:
        self._refresh_group_rows()
        place = self._place(request.gss_code)
        council_type = request.council_type or (place.council_type if place else None)
        if request.kind != "council":
            council_type = None
        region = request.region or (place.region if place else None)
        return _Query(
            request=request, place=place, row=self.context.row(request.gss_code),
            council_type=council_type, region_name=region,
            group=self._groups.get(request.gss_code or "", _NO_GROUP),
            own_slot=self._slot_of.get(request.profile_id, -1),
            region=self._regions.get(region, len(self._regions)) if region else None,
            kinds=np.array([kind in request.seeking for kind in (*KINDS, "other")]),
            can_help=_can_help(request, council_type),
            cosines=self._text.cosines(request.needs_text, len(self._slots)))

    def _place(self, gss_code: str | None) -> Place | None:
        return self.context.place(gss_code) if gss_code and gss_code in self.context else None

    def _refresh_group_rows(self) -> None:
        """Look up each council's context row again when the context model has changed."""
        if self._seen_version == self.context.version:
            return
        rows = np.full(len(self._groups), -1, dtype=np.int64)
        for gss_code, group in self._groups.items():
            row = self.context.row(gss_code)
            rows[group] = -1 if row is None else row
        self._group_rows, self._seen_version = rows, self.context.version

    def _partners(self, query: _Query, area: str, limit: int) -> tuple[Partner, ...]:
        slots = self._eligible(query, area)
        scores = self._scores(query, area, slots)
        return tuple(self._partner(query, area, slot, score)
                     for slot, score in self._top(slots, scores, limit))

    def _eligible(self, query: _Query, area: str) -> np.ndarray:
        slots = self._area_slots[_AREA[area]].view()
        keep = self._alive[slots] & query.kinds[self._kind[slots]]
        keep &= (self._group[slots] != query.group) & (slots != query.own_slot)
        return slots[keep]

    def _scores(self, query: _Query, area: str, slots: np.ndarray) -> np.ndarray:
        strength = np.clip((self._ratings[slots, _AREA[area]] - 3) / 2, 0.0, 1.0)
        text = TEXT_FLOOR + (1 - TEXT_FLOOR) * query.cosines[slots]
        reciprocity = np.where(self._reciprocal(query, slots), RECIPROCITY_BONUS, 1.0)
        score = strength * self._context_factor(query, area, slots) * text
        score *= self._capacity[slots] * reciprocity * self._diversity[slots]
        return np.round(np.clip(score, 0.0, 1.0), 6)

    def _context_factor(self, query: _Query, area: str, slots: np.ndarray) -> np.ndarray:
        factor = np.where(self._serves_all[slots], SUPPLIER_IN_REGION_FACTOR, OTHER_REGION_FACTOR)
        if query.region is None:
            factor[:] = SUPPLIER_IN_REGION_FACTOR
        elif query.region < self._serves.shape[1]:
            factor[self._serves[slots, query.region]] = SUPPLIER_IN_REGION_FACTOR
        councils = self._kind[slots] == 0
        factor[councils] = NEUTRAL_SIMILARITY
        groups = self._group[slots[councils]]
        rows = np.full(len(groups), -1, dtype=np.int64)
        rows[groups >= 0] = self._group_rows[groups[groups >= 0]]
        if query.row is not None and (rows >= 0).any():
            known = np.flatnonzero(councils)[rows >= 0]
            factor[known] = self.context.similarities_for_rows(query.row, rows[rows >= 0], area)
        return factor

    def _reciprocal(self, query: _Query, slots: np.ndarray) -> np.ndarray:
        """Say, per slot, whether the requester could help that council in some area."""
        if not query.can_help.any():
            return np.zeros(len(slots), dtype=bool)
        return (self._struggles(slots) & query.can_help).any(axis=1)

    def _struggles(self, slots: np.ndarray) -> np.ndarray:
        ratings = self._ratings[slots]
        return (ratings >= 1) & (ratings <= STRUGGLING_MAX) & self._delivers[slots]

    def _top(self, slots: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """Return the best (slot, score) pairs, one per council, ties by name then profile id."""
        want = 4 * limit + 8
        while True:
            if want >= len(slots):
                pool = np.arange(len(slots))
            else:
                pool = np.flatnonzero(scores >= np.partition(scores, -want)[-want])
            chosen = self._one_per_council(slots[pool], scores[pool])
            if len(chosen) >= limit or len(pool) == len(slots):
                return chosen[:limit]
            want *= 4

    def _one_per_council(self, slots: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
        ranked = sorted(zip(slots.tolist(), scores.tolist(), strict=True), key=self._rank_key)
        seen: set[int] = set()
        chosen = []
        for slot, score in ranked:
            if int(self._group[slot]) not in seen:
                seen.add(int(self._group[slot]))
                chosen.append((slot, score))
        return chosen

    def _rank_key(self, slot_score: tuple[int, float]) -> tuple[float, str, str]:
        candidate = self._slots[slot_score[0]]
        return -slot_score[1], candidate.name, candidate.profile_id

    def _partner(self, query: _Query, area: str, slot: int, score: float) -> Partner:
        candidate = self._slots[slot]
        return Partner(
            profile_id=candidate.profile_id, name=candidate.name, kind=candidate.kind,
            gss_code=candidate.gss_code, score=score, strength_rating=candidate.ratings[area],
            reasons=self._reasons(query, area, slot))

    def _reasons(self, query: _Query, area: str, slot: int) -> tuple[str, ...]:
        candidate = self._slots[slot]
        rating = candidate.ratings[area]
        reasons = [
            f"Rates itself {rating} out of 5 for {SERVICE_AREAS[area]}",
            *candidate.evidence.get(area, ()),
        ]
        place = self._place(candidate.gss_code) if candidate.kind == "council" else None
        if query.place and place:
            reasons += context_reasons(query.place, place)
        reasons.append(_capacity_reason(candidate.capacity_to_support))
        helpable = [a for a, ok in zip(AREAS, self._struggles(np.array([slot]))[0]
                                       & query.can_help, strict=True) if ok]
        if helpable:
            reasons.append(f"You could help them with {_listed(helpable)}")
        if candidate.kind == "supplier":
            reasons += _region_reasons(candidate, query)
        return tuple(reasons)


def _needs(request: MatchRequest, council_type: str | None) -> list[tuple[str, int]]:
    """Return the areas the requester struggles with, weakest first.

    A council's rating for a service its tier does not run is not a need (a district rating
    itself 1 for adult social care has nothing to improve there).
    """
    needs = [(area, rating) for area, rating in request.ratings.items()
             if area in _AREA and 1 <= rating <= STRUGGLING_MAX
             and (council_type is None or delivers(council_type, area))]
    return sorted(needs, key=lambda ar: (ar[1], _AREA[ar[0]]))


def _can_help(request: MatchRequest, council_type: str | None) -> np.ndarray:
    """Mark the areas where a council requester is strong and which its type delivers."""
    if council_type is None:
        return np.zeros(len(AREAS), dtype=bool)
    return np.array([request.ratings.get(area, 0) >= STRONG_MIN
                     and delivers(council_type, area) for area in AREAS])


def _capacity_reason(capacity: str) -> str:
    if capacity == "limited":
        return "Has limited capacity to support other councils"
    return "Has capacity to support other councils"


def _listed(areas: list[str]) -> str:
    names = [SERVICE_AREAS[a][0].lower() + SERVICE_AREAS[a][1:] for a in areas]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _region_reasons(candidate: Candidate, query: _Query) -> list[str]:
    if not candidate.regions_served:
        return ["Works in all regions"]
    if query.region_name in candidate.regions_served:
        return [f"Works in {query.region_name}"]
    return []
