"""The matching score, as pure functions over numpy arrays (no state, no database).

For each service area the requester rates 1 or 2 (weakest first), every eligible candidate scores

    strength x trajectory x context x text x capacity x reciprocity, clipped to 0..1

- strength: rating 4 -> 0.5, 5 -> 1.0;
- trajectory: 1.1 when the partner recently improved in the area from weak to strong (Ofsted
  inadequate or requires improvement, then good or outstanding): it knows the way out;
- context: ``ContextModel`` similarity for councils; where either place is unknown, and for
  suppliers that work everywhere or in the requester's region, the area's neutral similarity (as
  alike as a typical council's 10th nearest neighbour, ``ContextModel.neutral``); for suppliers
  elsewhere ``OTHER_REGION_RATIO`` of it;
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
  one that scores more than 2% less (``spread``).

Each council appears once per need (its best profile); ties are broken by name, then profile id
(``one_per_council``). Text cosines are computed only for the rows whose score could still reach
the top: text can lower a score by a quarter at most, so rows whose best case falls below the
worst case of the k-th best council are skipped without changing the result (``text_pool``,
``finals``).

Rows belong to council groups (``group`` >= 0, one per council) or are suppliers (``group`` < 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from partnermatch.shared.reference.taxonomy import (
    SERVICE_AREAS,
    STRONG_MIN,
    STRUGGLING_MAX,
    areas_delivered_by,
)

# A supplier has no place to compare, so it scores like a council it cannot be compared with (the
# area's neutral similarity) when it works in the requester's region, less when it does not:
# otherwise suppliers would crowd every council out of the list.
OTHER_REGION_RATIO = 0.6
UNKNOWN_CAPACITY = "unknown"  # never said: a council recommended from public data
CAPACITIES = ("none", "limited", "available", UNKNOWN_CAPACITY)
CAPACITY_FACTORS = {"available": 1.0, "limited": 0.8, UNKNOWN_CAPACITY: 0.7}
CAPACITY_FACTOR = np.array([CAPACITY_FACTORS.get(c, 0.0) for c in CAPACITIES], dtype=np.float32)
RECIPROCITY_BONUS = 1.1
TRAJECTORY_BONUS = 1.1
TEXT_FLOOR = 0.75
DIVERSITY_MARGIN = 0.02
WITHIN_MARGIN = 1.0 - DIVERSITY_MARGIN
AREAS = tuple(SERVICE_AREAS)
AREA = {area: i for i, area in enumerate(AREAS)}
AREA_BITS = (1 << np.arange(len(AREAS))).astype(np.uint16)
_FIRST_TEXT_BLOCK = 256  # rows whose text is scored before checking whether to stop
_EPSILON = 1e-6  # scores this close to a bound count as reaching it


def area_bits(areas: Iterable[str]) -> int:
    """Return the bits (``AREAS`` order) of the known areas given."""
    return sum(1 << AREA[a] for a in set(areas) if a in AREA)


def struggling_areas(ratings: Mapping[str, int],
                     council_type: str | None) -> list[tuple[str, int]]:
    """Return the areas a requester struggles with (rated 1 or 2), weakest first.

    A council's rating for a service its tier does not run is not a need (a district rating
    itself 1 for adult social care has nothing to improve there).
    """
    delivered = AREA if council_type is None else areas_delivered_by(council_type)
    needs = [(area, rating) for area, rating in ratings.items()
             if area in AREA and 1 <= rating <= STRUGGLING_MAX and area in delivered]
    return sorted(needs, key=lambda ar: (ar[1], AREA[ar[0]]))


def can_help(ratings: Mapping[str, int], council_type: str | None) -> int:
    """Return the bits of the areas where a council requester is strong and delivers the area."""
    if council_type is None:
        return 0
    delivered = areas_delivered_by(council_type)
    return area_bits(area for area, rating in ratings.items()
                     if rating >= STRONG_MIN and area in delivered)


def weights(ratings: np.ndarray, improved: np.ndarray, capacity: np.ndarray, alive: np.ndarray,
            area: int) -> np.ndarray:
    """Return strength x trajectory x capacity of rows in one area (0 where not alive).

    ``ratings`` are the rows' ratings in the area, ``improved`` their bits of areas improved in,
    ``capacity`` their numbers in ``CAPACITIES``.
    """
    strength = np.clip((ratings - 3.0) / 2, 0.0, 1.0)
    trajectory = np.where(improved >> area & 1, TRAJECTORY_BONUS, 1.0)
    weight = strength * CAPACITY_FACTOR[capacity] * trajectory
    return np.where(alive, weight, 0.0)


def supplier_factors(serves_all: np.ndarray, serves: np.ndarray, region_bit: int | None,
                     neutral: float) -> np.ndarray:
    """Return each supplier's context factor: in the requester's region (or everywhere, or the
    region unknown) ``neutral``, else ``OTHER_REGION_RATIO`` of it."""
    if region_bit is None:
        return np.full(len(serves), neutral, dtype=np.float32)
    served = serves_all | ((serves & np.uint64(region_bit)) != 0)
    return np.where(served, neutral, neutral * OTHER_REGION_RATIO).astype(np.float32)


def scores_before_text(weight: np.ndarray, factor: np.ndarray, struggles: np.ndarray,
                       helpable: int) -> np.ndarray:
    """Return weight x context factor, with the reciprocity bonus where a row struggles in an
    area of ``helpable`` (bits of the areas the requester could help with)."""
    scores = weight * factor
    if helpable:
        np.multiply(scores, RECIPROCITY_BONUS, out=scores, where=(struggles & helpable) != 0)
    return scores


def best_per_council(groups: np.ndarray, scores: np.ndarray, count: int) -> np.ndarray:
    """Return each of ``count`` council groups' best score (0 if none); suppliers left out."""
    best = np.zeros(count + 1, dtype=scores.dtype)
    np.maximum.at(best, groups, scores)  # suppliers (-1) land in the extra last entry
    return best[:-1]


def kth_best(best: np.ndarray, supplier_scores: np.ndarray, limit: int) -> float:
    """Return the limit-th best positive score among councils' bests and suppliers (the lowest
    positive one if there are no more than ``limit``; 0 if none is positive)."""
    entities = np.concatenate([best, supplier_scores])
    entities = entities[entities > 0]
    if entities.size <= limit:
        return float(entities.min()) if entities.size else 0.0
    return float(np.partition(entities, -limit)[-limit])


def best_first(rows: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
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


def text_pool(scores: np.ndarray, groups: np.ndarray, supplier_rows: np.ndarray, count: int,
              limit: int, has_text: bool) -> np.ndarray:
    """Return the rows that could still reach the top ``limit`` after text (none if no row is
    eligible): a row is kept if its best case reaches the worst case of the limit-th entity."""
    kth = kth_best(best_per_council(groups, scores, count), scores.take(supplier_rows), limit)
    if kth <= 0:
        return np.empty(0, dtype=np.int64)
    floor = TEXT_FLOOR if has_text else 1.0
    return np.flatnonzero(scores >= kth * floor * WITHIN_MARGIN - _EPSILON)


def finals(pool: np.ndarray, scores: np.ndarray, groups: np.ndarray, count: int, limit: int,
           cosines: Callable[[np.ndarray], np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Score pool rows after text, best first, until no later row can reach the top.

    Returns the rows scored and their final scores (in that order). ``cosines(rows)`` gives the
    rows' text cosines (None: no needs text, every row scores ``TEXT_FLOOR`` of its score).
    Text multiplies a score by 0.75 to 1, so once the next row's score (its best case) is below
    the limit-th best final score, no row after it can enter the list. Only the next block is put
    in order each time (a partition, then a sort of the block), not the pool. ``pool`` is
    reordered in place.
    """
    if cosines is None:
        return pool, scores[pool] * TEXT_FLOOR
    done, size, kth, parts = 0, _FIRST_TEXT_BLOCK, -np.inf, []
    scored = np.empty(0)
    while done < len(pool):
        rest = scores.take(pool[done:])
        # (never before the first block: kth is -inf)
        if done and rest.max() < kth * WITHIN_MARGIN - _EPSILON:
            break
        pool[done:] = best_first(pool[done:], rest, size)
        rows = pool[done: done + size]
        parts.append(scores.take(rows) * (TEXT_FLOOR + (1 - TEXT_FLOOR) * cosines(rows)))
        done, size = done + len(rows), 2 * size
        scored = parts[0] if len(parts) == 1 else np.concatenate(parts)
        seen = groups.take(pool[:done])
        kth = kth_best(best_per_council(seen, scored, count), scored[seen < 0], limit)
    return pool[:done], scored


def one_per_council(final: np.ndarray, groups: np.ndarray, slots: np.ndarray, count: int,
                    limit: int, names: Sequence[str],
                    ids: Sequence[str | None]) -> list[tuple[int, float]]:
    """Return (slot, score) of each council's best row and of suppliers, best first, ties by
    name then profile id (``names`` and ``ids`` by slot); only those within the margin of the
    limit-th best.

    ``final``, ``groups`` and ``slots`` are aligned: one entry per scored row.
    """
    best = best_per_council(groups, final, count)
    kth = kth_best(best, final[groups < 0], limit)
    near = final >= kth * WITHIN_MARGIN - _EPSILON
    near &= (groups < 0) | (final >= np.append(best, 0.0)[groups])  # below its best: no
    order = sorted(zip(final[near].tolist(), slots[near].tolist(), groups[near].tolist(),
                       strict=True), key=lambda fsg: (-fsg[0], names[fsg[1]], ids[fsg[1]]))
    seen: set[int] = set()
    chosen = []
    for score, slot, group in order:
        entity = group if group >= 0 else -(slot + 1)
        if entity not in seen:
            seen.add(entity)
            chosen.append((slot, score))
    return chosen


def spread(ranked: list[tuple[int, float]], loads: list[int],
           limit: int) -> list[tuple[int, float]]:
    """Return ``limit`` of the ranked (slot, score) pairs: at each place, of those within the
    margin of the best one left, the one with the lowest load (then the best, then as ranked).

    ``loads`` are aligned with ``ranked``: how often each was recommended to others.
    """
    left = [(slot, score, load, i)
            for i, ((slot, score), load) in enumerate(zip(ranked, loads, strict=True))]
    chosen = []
    while left and len(chosen) < limit:
        floor = left[0][1] * WITHIN_MARGIN - 1e-9
        pick = min((entry for entry in left if entry[1] >= floor),
                   key=lambda entry: (entry[2], entry[3]))
        left.remove(pick)
        chosen.append((pick[0], pick[1]))
    return chosen
