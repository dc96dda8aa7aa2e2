"""The context model before the Census context, kept so the benches can compare the new one with it.

A frozen copy of ``shared/matching/context.py`` at commit 427230e (its reasons left out): nine
features of size, place and deprivation, and the LAIT children's need block (including service
activity). Nothing in the service uses it.

Original description follows.

How alike two councils' circumstances are: weighted Euclidean distance on standardised features.

The method is CIPFA Nearest Neighbours' and NHS England's peer groups': robust-standardise a few
public facts about each place (median and interquartile range, missing values imputed with the
median), weight them, and take the Euclidean distance. Weights differ per service area, because
children's services depend on deprivation and child need, highways on rurality, density and area.

A distance ``d`` becomes a similarity ``2 ** (-d / s)``, where ``s`` is the median distance between
two councils under the same weights: identical places score 1, a typical pair 0.5, and the score
never reaches 0. The median, unlike the nearest-neighbour distance, does not collapse when a few
councils are near copies of each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from partnermatch.shared.reference.records import Place

FEATURES = (
    "population", "density", "area", "deprivation", "rurality", "distance",
    "council_type", "region", "child_need",
)
DEFAULT_WEIGHTS: dict[str, float] = {
    "population": 1.0, "density": 1.0, "area": 0.5, "deprivation": 1.0, "rurality": 1.0,
    "distance": 0.5, "council_type": 1.0, "region": 0.5, "child_need": 0.0,
}
# Per-area weights. The four areas with public outcome data were chosen by measurement, not set by
# hand: ``python -m bench.weights`` searches a grid (penalising departures from equal weights) for
# the weights whose 10 nearest neighbours best predict a council's own held-out outcomes (LAIT
# children's indicators, ASCOF), the test NFER used for the DfE statistical neighbours. Out of
# sample (5-fold cross-validation, 153 English councils; mean absolute error in robust z, 95% CI):
# education and SEND 0.940 against 0.950 for equal weights (difference -0.010 [-0.018, -0.003]);
# public health 0.956 against 0.975 (-0.019 [-0.032, -0.005]). For adult social care and
# children's services no weighting of these features beat equal weights out of sample (the
# unpenalised search overfitted: +0.006 and +0.002), so they keep equal weights. The other areas
# have no outcome data here: their weights are judgement (highways on rurality, density and area;
# waste on density and rurality) and say so.
EQUAL = dict.fromkeys(FEATURES, 1.0)
AREA_WEIGHTS: dict[str, dict[str, float]] = {
    "adult_social_care": EQUAL,
    "childrens_services": EQUAL,
    "education_send": {**EQUAL, "deprivation": 2.0},
    "public_health": {**EQUAL, "population": 0.5, "deprivation": 2.0, "child_need": 2.0},
    "housing": {"density": 1.5, "deprivation": 1.5},
    "highways_transport": {"rurality": 2.5, "density": 2.0, "area": 2.0, "deprivation": 0.5},
    "waste": {"density": 1.5, "rurality": 1.5},
}
# mySociety rural-urban labels, least to most rural; unknown labels are imputed with the median.
RURALITY_ORDER: dict[str, float] = {
    "urban": 0, "urban with rural areas": 1, "urban with significant rural": 1,
    "rural": 2, "largely rural": 2, "mainly rural": 2, "sparse and rural": 3,
}
_COLUMNS = ("population", "density", "area", "deprivation", "rurality", "distance", "distance")
_KM_PER_DEGREE = 111.2
_COS_UK = math.cos(math.radians(54.0))
_SCALE_SAMPLE = 500


@dataclass(frozen=True)
class _WeightSet:
    """One set of feature weights, and the median distance that turns distance into similarity."""

    root: np.ndarray  # square roots of the continuous-column weights
    council_type: float
    region: float
    child_need: float
    base_total: float
    scale: float = 1.0


@dataclass(frozen=True)
class Gaps:
    """Squared standardised gaps between pairs of councils, one square matrix per feature."""

    gss_codes: tuple[str, ...]
    blocks: dict[str, np.ndarray]
    need_shared: np.ndarray  # True where both councils have a child-need indicator in common


def combine_gaps(gaps: Gaps, weights: Mapping[str, float]) -> np.ndarray:
    """Weight per-feature gaps into distances, exactly as ``ContextModel`` does for one area."""
    entry = {**DEFAULT_WEIGHTS, **weights}
    squares = sum(entry[name] * block for name, block in gaps.blocks.items())
    base = sum(entry[name] for name in FEATURES if name != "child_need") or 1.0
    total = base + entry["child_need"] * gaps.need_shared
    return np.sqrt(squares / total)


def _weight_table(weights: Mapping[str, Mapping[str, float]] | None) -> dict[str, dict[str, float]]:
    """Merge caller overrides onto the defaults: a 'default' key and one key per service area."""
    weights = weights or {}
    default = {**DEFAULT_WEIGHTS, **weights.get("default", {})}
    table = {"default": default}
    for area in {*AREA_WEIGHTS, *weights} - {"default"}:
        table[area] = {**default, **AREA_WEIGHTS.get(area, {}), **weights.get(area, {})}
    for entry in table.values():
        unknown = set(entry) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown context features: {sorted(unknown)}")
    return table


def _positive_log(value: float | None) -> float:
    return math.log(value) if value and value > 0 else math.nan


def _raw_features(place: Place) -> list[float]:
    """Return the continuous features of a place, NaN where unknown."""
    population, area, density = place.population, place.area_km2, place.density
    if density is None and population and area:
        density = population / area
    if area is None and population and density:
        area = population / density
    rurality = RURALITY_ORDER.get((place.rurality or "").strip().lower(), math.nan)
    x = y = math.nan
    if place.lat is not None and place.lon is not None:
        x, y = place.lon * _COS_UK * _KM_PER_DEGREE, place.lat * _KM_PER_DEGREE
    imd = math.nan if place.imd_score is None else float(place.imd_score)
    return [_positive_log(population), _positive_log(density), _positive_log(area), imd,
            float(rurality), x, y]


def _robust_scale(column: np.ndarray) -> float:
    """Return the interquartile range, falling back to the standard deviation, then 1."""
    known = column[~np.isnan(column)]
    if known.size == 0:
        return 1.0
    q1, q3 = np.percentile(known, [25, 75])
    return float(q3 - q1) or float(known.std()) or 1.0


def _nanmedian(matrix: np.ndarray) -> np.ndarray:
    """Return each column's median over known values (0 for a column with none)."""
    known = [column[~np.isnan(column)] for column in matrix.T]
    return np.array([float(np.median(c)) if c.size else 0.0 for c in known])


def haversine_miles(a: Place, b: Place) -> float | None:
    """Return the great-circle distance between two places in miles, if both have coordinates."""
    if None in (a.lat, a.lon, b.lat, b.lon):
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2) ** 2
    return 2 * 3958.8 * math.asin(math.sqrt(h))


class ContextModel:
    """Circumstances similarity between councils; build with ``ContextModel.fit(places)``."""

    def __init__(self, weights: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self._table = _weight_table(weights)
        self._places: list[Place] = []
        self._rows: dict[str, int] = {}
        self._codes: dict[str, dict[str, int]] = {"council_type": {}, "region": {}}
        self.version = 0  # bumped on every upsert, so indexes can tell when rows were added

    @classmethod
    def fit(cls, places: Sequence[Place],
            weights: Mapping[str, Mapping[str, float]] | None = None) -> ContextModel:
        """Standardise the places' features and precompute one weighted matrix per weight set."""
        model = cls(weights)
        model._fit(places)
        return model

    def _fit(self, places: Sequence[Place]) -> None:
        unique = list({p.gss_code: p for p in places}.values())
        self._places = unique
        self._rows = {p.gss_code: i for i, p in enumerate(unique)}
        self._need_keys = sorted({k for p in unique for k in p.need_indicators})
        raw = np.array([_raw_features(p) for p in unique], dtype=float).reshape(-1, 7)
        self._centre = _nanmedian(raw)
        scales = np.array([_robust_scale(raw[:, i]) for i in range(7)])
        scales[5:] = (scales[5] + scales[6]) / 2  # one scale for both axes keeps distance round
        self._spread = scales
        needs = np.array([self._raw_need(p) for p in unique], dtype=float)
        needs = needs.reshape(len(unique), len(self._need_keys))
        self._need_centre = _nanmedian(needs)
        self._need_spread = np.array([_robust_scale(c) for c in needs.T])
        self._z = self._standardise(raw)
        self._need_z = (needs - self._need_centre) / self._need_spread
        self._type_codes = np.array([self._code("council_type", p.council_type) for p in unique])
        self._region_codes = np.array([self._code("region", p.region) for p in unique])
        self._build_weight_sets()

    def _raw_need(self, place: Place) -> list[float]:
        return [float(place.need_indicators.get(k, math.nan)) for k in self._need_keys]

    def _standardise(self, raw: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(raw), self._centre, raw)
        return (filled - self._centre) / self._spread

    def _code(self, kind: str, value: str | None) -> int:
        codes = self._codes[kind]
        return codes.setdefault(value or "", len(codes))

    def _build_weight_sets(self) -> None:
        self._sets: dict[tuple, _WeightSet] = {}
        self._set_for_area: dict[str, tuple] = {}
        self._weighted: dict[tuple, np.ndarray] = {}
        for area, entry in self._table.items():
            key = tuple(entry[f] for f in FEATURES)
            self._set_for_area[area] = key
            if key not in self._sets:
                self._sets[key] = self._weight_set(entry)
                self._weighted[key] = self._z * self._sets[key].root
                self._sets[key] = self._with_scale(key)

    @staticmethod
    def _weight_set(entry: Mapping[str, float]) -> _WeightSet:
        column_weights = np.array([entry[name] for name in _COLUMNS], dtype=float)
        base = column_weights[:6].sum() + entry["council_type"] + entry["region"]
        return _WeightSet(np.sqrt(column_weights), entry["council_type"], entry["region"],
                          entry["child_need"], float(base) or 1.0)

    def _with_scale(self, key: tuple) -> _WeightSet:
        """Set the scale to the median distance between councils (on a sample if there are many)."""
        n = len(self._places)
        sample = np.unique(np.linspace(0, n - 1, min(n, _SCALE_SAMPLE)).astype(int))
        pairs = [self._distances(key, int(i), sample[sample > i]) for i in sample]
        distances = np.concatenate(pairs) if pairs else np.empty(0)
        scale = float(np.median(distances)) if distances.size else 0.0
        return replace(self._sets[key], scale=scale if scale > 1e-9 else 1.0)

    def _distances(self, key: tuple, row: int, rows: np.ndarray) -> np.ndarray:
        """Return weighted distances from one row to many, as a weighted mean of squares."""
        ws, weighted = self._sets[key], self._weighted[key]
        squares = ((weighted[rows] - weighted[row]) ** 2).sum(axis=1)
        squares += ws.council_type * (self._type_codes[rows] != self._type_codes[row])
        squares += ws.region * (self._region_codes[rows] != self._region_codes[row])
        total = np.full(len(rows), ws.base_total)
        if ws.child_need > 0 and self._need_z.shape[1]:
            self._add_child_need(ws.child_need, row, rows, squares, total)
        return np.sqrt(squares / total)

    def _add_child_need(self, weight: float, row: int, rows: np.ndarray,
                        squares: np.ndarray, total: np.ndarray) -> None:
        """Add the child-need block where both councils have indicators in common."""
        if np.isnan(self._need_z[row]).all():
            return
        diff = self._need_z[rows] - self._need_z[row]
        shared = (~np.isnan(diff)).sum(axis=1)
        both = shared > 0
        mean = np.nansum(diff[both] ** 2, axis=1) / shared[both]
        squares[both] += weight * mean
        total[both] += weight

    def _key(self, service_area: str | None) -> tuple:
        return self._set_for_area.get(service_area or "default", self._set_for_area["default"])

    def weights_key(self, service_area: str | None) -> tuple:
        """Return a key shared by the service areas that use the same weights."""
        return self._key(service_area)

    def row(self, gss_code: str | None) -> int | None:
        """Return the row of a council in this model, or None if unknown."""
        return self._rows.get(gss_code) if gss_code else None

    def place(self, gss_code: str) -> Place:
        """Return the place with a GSS code (KeyError if unknown)."""
        return self._places[self._rows[gss_code]]

    def __contains__(self, gss_code: object) -> bool:
        return gss_code in self._rows

    def __len__(self) -> int:
        return len(self._places)

    def similarities_for_rows(self, row: int, rows: np.ndarray,
                              service_area: str | None = None) -> np.ndarray:
        """Return similarities (0..1) from one row to many rows: the vectorised hot path."""
        key = self._key(service_area)
        distances = self._distances(key, row, np.asarray(rows, dtype=np.intp))
        return np.exp2(-distances / self._sets[key].scale)

    def similarities(self, a_gss: str, candidates_gss: Sequence[str],
                     service_area: str | None = None) -> np.ndarray:
        """Return a's similarity to each candidate; NaN for candidates not in the model."""
        rows = np.array([self._rows.get(g, -1) for g in candidates_gss], dtype=np.intp)
        known = rows >= 0
        result = np.full(len(rows), np.nan)
        result[known] = self.similarities_for_rows(self._rows[a_gss], rows[known], service_area)
        return result

    def similarity(self, a_gss: str, b_gss: str, service_area: str | None = None) -> float:
        """Return how alike two councils' circumstances are, from 0 to 1 (1 when identical)."""
        return float(self.similarities(a_gss, [b_gss], service_area)[0])

    def similar(self, gss_code: str, service_area: str | None = None, limit: int = 10,
                eligible: Callable[[Place], bool] | None = None,
                ) -> list[tuple[Place, float, tuple[str, ...]]]:
        """Return the councils most like one council, most similar first, excluding itself."""
        row = self._rows[gss_code]
        rows = np.array([i for i, p in enumerate(self._places)
                         if i != row and (eligible is None or eligible(p))], dtype=np.intp)
        if rows.size == 0:
            return []
        scores = self.similarities_for_rows(row, rows, service_area)
        found = [(self._places[i], s) for i, s in zip(rows.tolist(), scores.tolist(), strict=True)]
        found.sort(key=lambda ps: (-ps[1], ps[0].name, ps[0].gss_code))
        return [(p, s, ()) for p, s in found[:limit]]

    def gaps(self, gss_codes: Sequence[str]) -> Gaps:
        """Return the squared standardised gaps between every pair of these councils, per feature.

        ``combine_gaps`` weights them into the same distances ``similarity`` uses, so weights can
        be compared (``python -m bench.weights``) without refitting the model for each candidate.
        """
        rows = np.array([self._rows[g] for g in gss_codes], dtype=np.intp)
        z = self._z[rows]
        squares = (z[:, None, :] - z[None, :, :]) ** 2
        blocks = {name: squares[:, :, i] for i, name in enumerate(FEATURES[:5])}
        blocks["distance"] = squares[:, :, 5] + squares[:, :, 6]
        for name, codes in (("council_type", self._type_codes), ("region", self._region_codes)):
            blocks[name] = (codes[rows][:, None] != codes[rows][None, :]).astype(float)
        need = self._need_z[rows]
        diff = need[:, None, :] - need[None, :, :]
        shared = (~np.isnan(diff)).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            blocks["child_need"] = np.where(shared > 0, np.nansum(diff**2, axis=2) / shared, 0.0)
        return Gaps(tuple(gss_codes), blocks, shared > 0)

    def embedding(self, service_area: str | None = None) -> np.ndarray:
        """Return one row per place whose Euclidean distances are this area's weighted distances.

        Categories become one-hot columns scaled so a mismatch adds its weight; child need is
        imputed with the median. For places with every need indicator, the distance between two
        rows over ``sqrt(total weight)`` is the model's distance; the bench gives this matrix to
        scikit-learn's nearest neighbours as the baseline.
        """
        key = self._key(service_area)
        ws = self._sets[key]
        types = np.eye(len(self._codes["council_type"]))[self._type_codes]
        regions = np.eye(len(self._codes["region"]))[self._region_codes]
        need = np.nan_to_num(self._need_z) * np.sqrt(ws.child_need / max(1, len(self._need_keys)))
        return np.hstack([self._weighted[key], types * np.sqrt(ws.council_type / 2),
                          regions * np.sqrt(ws.region / 2), need])

    def upsert(self, place: Place) -> None:
        """Add or replace one place, standardised with the fitted centre and spread (no refit)."""
        row = self._rows.get(place.gss_code)
        z = self._standardise(np.array([_raw_features(place)], dtype=float))
        need = (np.array([self._raw_need(place)], dtype=float).reshape(1, -1)
                - self._need_centre) / self._need_spread
        codes = (self._code("council_type", place.council_type), self._code("region", place.region))
        if row is None:
            self._append(place, z, need, codes)
        else:
            self._replace(row, place, z, need, codes)
        self.version += 1

    def _append(self, place: Place, z: np.ndarray, need: np.ndarray, codes: tuple) -> None:
        self._rows[place.gss_code] = len(self._places)
        self._places.append(place)
        self._z = np.vstack([self._z, z])
        self._need_z = np.vstack([self._need_z, need])
        self._type_codes = np.append(self._type_codes, codes[0])
        self._region_codes = np.append(self._region_codes, codes[1])
        for key, ws in self._sets.items():
            self._weighted[key] = np.vstack([self._weighted[key], z * ws.root])

    def _replace(self, row: int, place: Place, z: np.ndarray, need: np.ndarray,
                 codes: tuple) -> None:
        self._places[row] = place
        self._z[row], self._need_z[row] = z[0], need[0]
        self._type_codes[row], self._region_codes[row] = codes
        for key, ws in self._sets.items():
            self._weighted[key][row] = z[0] * ws.root

