"""How alike two councils' circumstances are: a scikit-learn pipeline per service area.

The method is CIPFA Nearest Neighbours' and NHS England's peer groups': describe each place by
public facts about its people (Census 2021 age structure, ethnicity and country of birth, language,
households, tenure and socio-economic class; deprivation and its spread; density; child poverty
for children's services) and, only where they earn their place, its size, type and geography;
robust-standardise them, weight them, and take the Euclidean distance.

Each service area has its own ``sklearn`` pipeline, a ``ColumnTransformer`` with one transformer
per block of features: numeric blocks are robust-scaled (median and interquartile range) over the
councils that deliver the area, then missing values are imputed with that median and a
missing-block column (``MissingBlocks``) puts a council without a block (no Census in Scotland or
Northern Ireland, no child poverty figures outside England) as far from one with it as a typical
pair of councils, rather than at the median where it would look like every typical council; its
reasons say the block was not compared. Categories are one-hot encoded. ``transformer_weights``
weigh each block so that it adds its weight times its mean squared gap, whatever its number of
columns. The distance between two rows of the output, over the square root of the total weight,
is the distance between the councils.

A distance ``d`` becomes a similarity ``2 ** (-(d / s) ** 1.25)``, where ``s`` is, over the
councils of the area's pool, the median distance to their 2nd nearest neighbour: identical places
score 1, a council as near as a typical 2nd statistical neighbour 0.5, and the score never reaches
0 (it stops at ``SIMILARITY_FLOOR``). So closeness in circumstances weighs as much in the ranking
as the difference between a good and an outstanding partner: a good partner among a council's
nearest neighbours comes before an outstanding one that is not comparable. The power
(``SIMILARITY_POWER``) makes the score fall faster beyond that distance and more slowly within it,
so strength decides among comparable councils and a distant outstanding council does not outrank a
comparable good one. ``python -m bench.shape`` chose this shape among eight (before it, the 3rd
neighbour and a power of 1, and the 5th before that): recommended partners more comparable (their
outcomes predict the requester's better, more of them among the strong councils whose outcomes are
nearest its own) for children's services and adult social care, and no measurable change in how
often they were still good or outstanding at their next inspection; see ``docs/quality.md``.

A place the model cannot compare (a supplier, a council without public data) is given the
similarity of a typical council's 10th nearest neighbour in the area (``neutral``): fixed at 0.5,
it stood level with a typical 2nd neighbour on this scale and put a fictional supplier ahead of
every council but one for Leeds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler

from partnermatch.shared.matching.likeness import context_reasons, haversine_miles
from partnermatch.shared.reference.records import Place
from partnermatch.shared.reference.taxonomy import SERVICE_AREAS, delivers

__all__ = ["AREA_WEIGHTS", "BLOCKS", "DEFAULT_WEIGHTS", "EQUAL", "FEATURES", "ContextModel",
           "Gaps", "combine_gaps", "context_reasons", "haversine_miles"]

CHILD_POVERTY = ("ChildPov", "PriFSM", "SecFSM")
# The numeric blocks and their columns (see ``_raw_features``), then the categorical ones.
BLOCKS: dict[str, tuple[str, ...]] = {
    "population": ("log_population",),
    "density": ("log_density",),
    "area": ("log_area",),
    "deprivation": ("imd_score", "imd_high_share", "imd_low_share"),
    "rurality": ("rurality",),
    "distance": ("x_km", "y_km"),
    "age": ("age_0-14_perc", "age_15-24_perc", "age_25-34_perc", "age_35-44_perc",
            "age_45-54_perc", "age_55-64_perc", "age_65-74_perc", "age_75plus_perc"),
    "ethnicity": ("ethnicity_asian_perc", "ethnicity_black_perc", "ethnicity_mixed_perc",
                  "ethnicity_white_perc", "born_outside_UK_perc",
                  "households_multiplelanguages_perc"),
    "households": ("household_1-person_perc", "household_2-person_perc",
                   "household_3-person_perc", "household_4-person_perc", "marital_Single_perc",
                   "marital_DivorcedDissolved_perc"),
    "tenure": ("tenure_owned_perc", "tenure_social_rented_perc", "tenure_private_rented_perc"),
    "occupation": ("nssec_higher_perc", "nssec_routine_perc", "nssec_never_worked_perc",
                   "nssec_students_perc"),
    "child_poverty": CHILD_POVERTY,
}
CATEGORIES = ("council_type", "region")
FEATURES = (*BLOCKS, *CATEGORIES)
COLUMNS = tuple(column for block in BLOCKS.values() for column in block)
CENSUS_BLOCKS = ("age", "ethnicity", "households", "tenure", "occupation")
_CENSUS_COLUMNS = frozenset(column for block in CENSUS_BLOCKS for column in BLOCKS[block])
EQUAL = dict.fromkeys(FEATURES, 1.0)
# Before measurement: what describes the people, nothing of size, type or geography.
DEFAULT_WEIGHTS: dict[str, float] = {
    **dict.fromkeys(FEATURES, 0.0),
    "density": 1.0, "deprivation": 1.0, "age": 1.0, "ethnicity": 1.0, "households": 1.0,
    "tenure": 1.0, "occupation": 1.0,
}
CHILDREN = {**DEFAULT_WEIGHTS, "child_poverty": 1.0}
# Per-area weights. The four areas with public outcome data were chosen by measurement:
# ``python -m bench.weights`` searches a grid of block weights, starting from the people-only
# weights (equal over the blocks that describe the people), for those whose 10 nearest neighbours
# best predict a council's own held-out outcomes (LAIT children's indicators by topic, ASCOF), the
# test NFER used for the DfE statistical neighbours, and cross-validates the search (scikit-learn
# RepeatedKFold, 5-fold x2, ~150 English councils; mean absolute error in robust z, 95% CI). A
# search is kept only if it beats both the start and equal weights over every block out of
# sample. Only public health's did (0.906 against 0.927, difference -0.021 [-0.040, -0.004];
# against equal weights -0.037 [-0.061, -0.015]): it weighs distance (its outcomes, life
# expectancy among them, follow a north-south gradient) and ethnicity more, age less. For adult
# social care (+0.004 [-0.006, 0.013]), children's services (-0.002 [-0.006, 0.001]) and
# education (-0.001 [-0.008, 0.006]) it did not, so they keep the people-only weights (with child
# poverty where children are concerned): size, type and region did not earn a place. The other
# areas have no outcome data here: their extra weights are judgement (highways on rurality and
# area; waste on rurality) and say so.
AREA_WEIGHTS: dict[str, dict[str, float]] = {
    "adult_social_care": DEFAULT_WEIGHTS,
    "childrens_services": CHILDREN,
    "education_send": CHILDREN,
    "public_health": {**CHILDREN, "distance": 4.0, "age": 0.25, "ethnicity": 2.0},
    "housing": DEFAULT_WEIGHTS,
    "highways_transport": {**DEFAULT_WEIGHTS, "rurality": 2.0, "area": 1.0},
    "waste": {**DEFAULT_WEIGHTS, "rurality": 1.0},
}
# mySociety rural-urban labels, least to most rural; unknown labels are imputed with the median.
RURALITY_ORDER: dict[str, float] = {
    "urban": 0, "urban with rural areas": 1, "urban with significant rural": 1,
    "rural": 2, "largely rural": 2, "mainly rural": 2, "sparse and rural": 3,
}
_KM_PER_DEGREE = 111.2
_COS_UK = math.cos(math.radians(54.0))
_SCALE_SAMPLE = 500
SCALE_NEIGHBOURS = 2  # similarity 0.5: as near as a typical council's 2nd nearest neighbour
SIMILARITY_POWER = 1.25  # 2 ** -((d / s) ** power): steeper beyond the scale, flatter within it
# The least similarity: a council ten typical distances away or more is still a partner (scores are
# rounded to 6 places, and a steeper fall would otherwise round the most unlike councils to 0).
SIMILARITY_FLOOR = 1e-5
# A place the model cannot compare (a supplier, a council with no public data) counts as alike as a
# typical council's last statistical neighbour of ten: comparable, but never ahead of a council's
# close neighbours.
NEUTRAL_NEIGHBOURS = 10
_MIN_POOL = 3


@dataclass(frozen=True)
class Gaps:
    """Squared standardised gaps between pairs of councils, one square matrix per block.

    Each block's gap is the mean over its columns (a category's is 1 where the two differ), so
    ``combine_gaps`` weighs blocks exactly as the area's pipeline does.
    """

    gss_codes: tuple[str, ...]
    blocks: dict[str, np.ndarray]


def combine_gaps(gaps: Gaps, weights: Mapping[str, float]) -> np.ndarray:
    """Weight per-block gaps into distances, exactly as ``ContextModel`` does for one area."""
    squares = sum(weights.get(name, 0.0) * block for name, block in gaps.blocks.items())
    total = sum(weights.get(name, 0.0) for name in gaps.blocks) or 1.0
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
        if not any(value > 0 for value in entry.values()):
            raise ValueError("context weights must give some feature a positive weight")
    return table


def _positive_log(value: float | None) -> float:
    return math.log(value) if value and value > 0 else math.nan


def _known(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _raw_features(place: Place) -> list:
    """Return a place's columns in ``COLUMNS`` order (NaN where unknown), then its categories."""
    population, area, density = place.population, place.area_km2, place.density
    if density is None and population and area:
        density = population / area
    if area is None and population and density:
        area = population / density
    x = y = math.nan
    if place.lat is not None and place.lon is not None:
        x, y = place.lon * _COS_UK * _KM_PER_DEGREE, place.lat * _KM_PER_DEGREE
    values = {
        "log_population": _positive_log(population), "log_density": _positive_log(density),
        "log_area": _positive_log(area), "imd_score": _known(place.imd_score),
        "imd_high_share": _known(place.imd_high_share),
        "imd_low_share": _known(place.imd_low_share),
        "rurality": RURALITY_ORDER.get((place.rurality or "").strip().lower(), math.nan),
        "x_km": x, "y_km": y,
        **{key: _known(place.census.get(key)) for key in _CENSUS_COLUMNS},
        **{key: _known(place.need_indicators.get(key)) for key in CHILD_POVERTY},
    }
    return [values[column] for column in COLUMNS] + [place.council_type or "", place.region or ""]


def weigh_columns(x: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """Multiply each column by its block's weight (the last step of the numeric pipeline)."""
    return np.asarray(x, dtype=float) * multipliers


def _block_slices() -> list[slice]:
    slices, start = [], 0
    for columns in BLOCKS.values():
        slices.append(slice(start, start + len(columns)))
        start += len(columns)
    return slices


class MissingBlocks(TransformerMixin, BaseEstimator):
    """One column per numeric block: how far a council with none of the block's figures stands.

    Imputing a missing block with the median alone would make a council without it (no Census
    2021 in Scotland and Northern Ireland, no child poverty figures outside England) look close to
    every typical council. This column is 0 where a council has any of the block's figures and
    ``sqrt(v)`` where it has none, ``v`` being the mean variance of the block's columns over the
    councils that have them (after scaling), so a council without the block stands from one with
    it about as far as two typical councils do, instead of at the median.
    """

    def fit(self, x: np.ndarray, y: object = None) -> MissingBlocks:
        x = np.asarray(x, dtype=float)
        spread = []
        for block in _block_slices():
            values = x[:, block]
            known = values[~np.isnan(values).all(axis=1)]
            columns = known[:, ~np.isnan(known).all(axis=0)]
            variance = np.nanvar(columns, axis=0).mean() if columns.size > 1 else 0.0
            spread.append(math.sqrt(variance))
        self.spread_ = np.array(spread)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        missing = np.column_stack([np.isnan(x[:, block]).all(axis=1)
                                   for block in _block_slices()])
        return missing * self.spread_


def _multipliers(weights: Mapping[str, float]) -> np.ndarray:
    """Return ``sqrt(w / n)`` for each column of a numeric block of ``n`` columns, then ``sqrt(w)``
    for each block's missing-block column."""
    columns = [math.sqrt(weights.get(block, 0.0) / len(columns))
               for block, columns in BLOCKS.items() for _ in columns]
    return np.array(columns + [math.sqrt(weights.get(block, 0.0)) for block in BLOCKS])


def area_pipeline(weights: Mapping[str, float]) -> ColumnTransformer:
    """Return one service area's unfitted pipeline.

    Numeric columns are robust-scaled over the pool (median and interquartile range; NaN left
    out of the fit), missing values imputed with the median (0 once scaled) and, per block, a
    column says how far a council missing the whole block stands (``MissingBlocks``); each column
    of a block of ``n`` is multiplied by ``sqrt(w / n)`` and its missing-block column by
    ``sqrt(w)``; each category is one-hot encoded and weighted by ``sqrt(w / 2)`` (two columns
    differ when categories do). So every block adds its weight times its mean squared gap to the
    squared distance.
    """
    numeric = Pipeline([
        ("scale", RobustScaler()),
        ("impute", FeatureUnion([
            ("median", SimpleImputer(strategy="constant", fill_value=0.0,
                                     keep_empty_features=True)),
            ("missing", MissingBlocks()),
        ])),
        ("weigh", FunctionTransformer(weigh_columns,
                                      kw_args={"multipliers": _multipliers(weights)})),
    ])
    transformers = [("numeric", numeric, list(range(len(COLUMNS))))]
    transformers += [(block, OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                      [len(COLUMNS) + offset]) for offset, block in enumerate(CATEGORIES)]
    block_weights = {block: math.sqrt(weights.get(block, 0.0) / 2) for block in CATEGORIES}
    return ColumnTransformer(transformers, transformer_weights={"numeric": 1.0, **block_weights})


@dataclass
class _Area:
    """One weight set: its fitted pipeline, its places' rows and the scale of its distances."""

    pipeline: ColumnTransformer
    weights: dict[str, float]
    rows: np.ndarray  # one row per place, in the model's order
    total: float  # the sum of the weights
    scale: float = 1.0
    neutral: float = 0.5  # the similarity of a place the model cannot compare (``neutral``)


class ContextModel:
    """Circumstances similarity between councils; build with ``ContextModel.fit(places)``."""

    def __init__(self, weights: Mapping[str, Mapping[str, float]] | None = None, *,
                 scale_neighbours: int = SCALE_NEIGHBOURS,
                 power: float = SIMILARITY_POWER) -> None:
        self._table = _weight_table(weights)
        self.scale_neighbours = scale_neighbours
        self.power = power
        self._places: list[Place] = []
        self._rows: dict[str, int] = {}
        self._raw = np.empty((0, len(COLUMNS) + len(CATEGORIES)), dtype=object)
        self._areas: dict[str, _Area] = {}
        self.version = 0  # bumped on every upsert, so indexes can tell when rows were added

    @classmethod
    def fit(cls, places: Sequence[Place],
            weights: Mapping[str, Mapping[str, float]] | None = None, *,
            scale_neighbours: int = SCALE_NEIGHBOURS,
            power: float = SIMILARITY_POWER) -> ContextModel:
        """Fit one pipeline per service area over the councils that deliver it.

        ``scale_neighbours`` and ``power`` shape the similarity (see the module's docstring);
        only ``bench.shape`` passes others, to compare them.
        """
        model = cls(weights, scale_neighbours=scale_neighbours, power=power)
        model._fit(places)
        return model

    def _fit(self, places: Sequence[Place]) -> None:
        unique = list({p.gss_code: p for p in places}.values())
        self._places = unique
        self._rows = {p.gss_code: i for i, p in enumerate(unique)}
        self._raw = self.columns_of(unique)
        shared: dict[tuple, _Area] = {}
        for area, weights in self._table.items():
            pool = self._pool(area)
            key = (pool.tobytes(), tuple(weights[f] for f in FEATURES))
            if key not in shared:
                shared[key] = self._fit_area(weights, pool)
            self._areas[area] = shared[key]

    def _fit_area(self, weights: Mapping[str, float], pool: np.ndarray) -> _Area:
        pipeline = area_pipeline(weights)
        with warnings.catch_warnings():  # a block no pool council has is imputed as all zeros
            warnings.simplefilter("ignore", RuntimeWarning)
            pipeline.fit(self._raw[pool])
        entry = _Area(pipeline, dict(weights), self._transform(pipeline, self._raw),
                      float(sum(weights.values())))
        entry.scale, typical = self._median_distances(entry, pool)
        entry.neutral = float(self._similarity(np.array([typical]), entry.scale)[0])
        return entry

    @staticmethod
    def columns_of(places: Sequence[Place]) -> np.ndarray:
        """Return the pipelines' input: one row of ``COLUMNS`` and categories per place."""
        rows = np.empty((len(places), len(COLUMNS) + len(CATEGORIES)), dtype=object)
        for i, place in enumerate(places):
            rows[i] = _raw_features(place)
        return rows

    @staticmethod
    def _transform(pipeline: ColumnTransformer, raw: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(pipeline.transform(raw), dtype=float)

    def _pool(self, area: str) -> np.ndarray:
        """Return the rows of the councils that deliver an area (every council for 'default')."""
        if area not in SERVICE_AREAS:
            return np.arange(len(self._places))
        pool = np.array([i for i, p in enumerate(self._places)
                         if delivers(p.council_type, area)], dtype=np.intp)
        return pool if len(pool) >= _MIN_POOL else np.arange(len(self._places))

    def _median_distances(self, entry: _Area, pool: np.ndarray) -> tuple[float, float]:
        """Return the medians, over the pool's councils, of the distance to their
        ``scale_neighbours``-th and ``NEUTRAL_NEIGHBOURS``-th nearest other council of the pool
        (sampled if many): the similarity's scale, and where a place it cannot compare stands."""
        pick = np.unique(np.linspace(0, len(pool) - 1, min(len(pool), _SCALE_SAMPLE)).astype(int))
        rows = entry.rows[pool[pick]]
        squares = ((rows[:, None, :] - rows[None, :, :]) ** 2).sum(axis=2) / entry.total
        if len(rows) < 2:
            return 1.0, 1.0
        np.fill_diagonal(squares, np.inf)
        found = []
        for k in (self.scale_neighbours, NEUTRAL_NEIGHBOURS):
            k = min(k, len(rows) - 1)
            found.append(float(np.median(np.sqrt(np.partition(squares, k - 1, axis=1)[:, k - 1]))))
        scale, typical = found
        return (scale, typical) if scale > 1e-9 else (1.0, 1.0)

    def _distinct_areas(self) -> list[_Area]:
        return list({id(entry): entry for entry in self._areas.values()}.values())

    def _area(self, service_area: str | None) -> _Area:
        return self._areas.get(service_area or "default", self._areas["default"])

    def weights_key(self, service_area: str | None) -> int:
        """Return a key shared by the areas that use the same pool and weights."""
        return id(self._area(service_area))

    def weights(self, service_area: str | None) -> dict[str, float]:
        """Return the block weights an area uses."""
        return dict(self._area(service_area).weights)

    def pipeline(self, service_area: str | None) -> ColumnTransformer:
        """Return an area's fitted scikit-learn pipeline (raw place columns in, weighted out)."""
        return self._area(service_area).pipeline

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

    def distances_for_rows(self, row: int, rows: np.ndarray,
                           service_area: str | None = None) -> np.ndarray:
        """Return the weighted distances from one row to many rows."""
        entry = self._area(service_area)
        diff = entry.rows[np.asarray(rows, dtype=np.intp)] - entry.rows[row]
        return np.sqrt(np.einsum("ij,ij->i", diff, diff) / entry.total)

    def similarities_for_rows(self, row: int, rows: np.ndarray,
                              service_area: str | None = None) -> np.ndarray:
        """Return similarities (0..1) from one row to many rows: the vectorised hot path."""
        distances = self.distances_for_rows(row, rows, service_area)
        return self._similarity(distances, self._area(service_area).scale)

    def _similarity(self, distances: np.ndarray, scale: float) -> np.ndarray:
        return np.maximum(np.exp2(-(distances / scale) ** self.power), SIMILARITY_FLOOR)

    def neutral(self, service_area: str | None = None) -> float:
        """Return the similarity given where a place cannot be compared (a supplier, a council
        without public data): a typical council's ``NEUTRAL_NEIGHBOURS``-th nearest neighbour's."""
        return self._area(service_area).neutral

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

    def reasons(self, a: Place, b: Place, service_area: str | None = None) -> tuple[str, ...]:
        """Return how two places are alike, in the blocks this area weighs."""
        weights = self._area(service_area).weights
        return context_reasons(a, b, {block for block, w in weights.items() if w > 0})

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
        me = self._places[row]
        return [(p, s, self.reasons(me, p, service_area)) for p, s in found[:limit]]

    def gaps(self, gss_codes: Sequence[str], service_area: str | None = None) -> Gaps:
        """Return the squared standardised gaps between every pair of these councils, per block.

        Standardised as the area's pipeline does (over the councils that deliver it);
        ``combine_gaps`` weights them into the distances ``similarity`` uses, so weights can be
        compared (``python -m bench.weights``) without refitting for each candidate.
        """
        pipeline = self._area(service_area).pipeline
        raw = self._raw[[self._rows[g] for g in gss_codes]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            numeric = pipeline.named_transformers_["numeric"][:-1].transform(
                raw[:, :len(COLUMNS)])
        numeric = np.asarray(numeric, dtype=float)
        blocks = {}
        for offset, (name, block) in enumerate(zip(BLOCKS, _block_slices(), strict=True)):
            z, missing = numeric[:, block], numeric[:, len(COLUMNS) + offset]
            blocks[name] = (((z[:, None, :] - z[None, :, :]) ** 2).mean(axis=2)
                            + (missing[:, None] - missing[None, :]) ** 2)
        for offset, name in enumerate(CATEGORIES):
            codes = raw[:, len(COLUMNS) + offset]
            blocks[name] = (codes[:, None] != codes[None, :]).astype(float)
        return Gaps(tuple(gss_codes), blocks)

    def embedding(self, service_area: str | None = None) -> np.ndarray:
        """Return one row per place whose Euclidean distances are this area's weighted distances
        times ``sqrt(total weight)``: the pipeline's output, given to scikit-learn's nearest
        neighbours as the bench's baseline."""
        return self._area(service_area).rows

    def upsert(self, place: Place) -> None:
        """Add or replace one place, transformed by the fitted pipelines (no refit)."""
        row = self._rows.get(place.gss_code)
        raw = self.columns_of([place])
        if row is None:
            self._rows[place.gss_code] = len(self._places)
            self._places.append(place)
            self._raw = np.vstack([self._raw, raw])
            for entry in self._distinct_areas():
                entry.rows = np.vstack([entry.rows, self._transform(entry.pipeline, raw)])
        else:
            self._places[row] = place
            self._raw[row] = raw[0]
            for entry in self._distinct_areas():
                entry.rows[row] = self._transform(entry.pipeline, raw)[0]
        self.version += 1
