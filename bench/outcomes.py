"""Judge context neighbours by how well they predict a council's own held-out outcomes.

This is the test behind the DfE statistical neighbours (NFER's method): a good set of neighbours
for a council is one whose outcomes, averaged, predict that council's own. For each council and
each outcome indicator of a service area, the prediction is the mean over its ``NEIGHBOURS``
nearest councils that report the indicator; the error is the absolute difference in robust z
units (median absolute deviations, clipped at ``Z_CLIP``), averaged over the area's indicators.
The context model never sees these outcomes: it uses only place and need features.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.legacy_context import AREA_WEIGHTS as LEGACY_WEIGHTS
from bench.legacy_context import DEFAULT_WEIGHTS as LEGACY_DEFAULTS
from bench.legacy_context import ContextModel as LegacyModel
from bench.legacy_context import combine_gaps as legacy_combine
from partnermatch.shared.matching.context import EQUAL, ContextModel, Gaps, combine_gaps
from partnermatch.shared.reference.readers import LAIT
from partnermatch.shared.reference.records import CouncilRecord
from partnermatch.shared.reference.taxonomy import delivers

NEIGHBOURS = 10
Z_CLIP = 4.0
MIN_COUNCILS = 100  # an indicator must be reported by this many councils to be scored
RANDOM_DRAWS = 50
LAIT_DICTIONARY = str(Path(LAIT).parent / "lait_data_dictionary.csv")
# The LAIT topics whose indicators are outcomes of each service area (ASC uses every asc: key).
AREA_TOPICS: dict[str, tuple[str, ...]] = {
    "childrens_services": ("Child Protection", "Children Looked After", "Children in Need",
                           "Children's Services Workforce", "Adoption", "Youth Offending"),
    "education_send": ("Children with SEN", "Key Stage 1 and Phonics", "Key Stage 2",
                       "Key Stage 4", "Attainment by age 19", "Foundation Stage"),
    "public_health": ("Health and Wellbeing",),
}
SCORED_AREAS = ("adult_social_care", *AREA_TOPICS)
EQUAL_WEIGHTS = dict(EQUAL)


@dataclass(frozen=True)
class OutcomeSet:
    """One service area's councils, their outcome indicators and their context gaps.

    ``gaps`` are the model's (standardised within the councils that deliver the area);
    ``legacy`` are the model's before the Census context (``bench.legacy_context``), for comparison.
    """

    area: str
    indicators: tuple[str, ...]
    values: np.ndarray  # councils x indicators, robust z clipped, NaN where not reported
    gaps: Gaps
    legacy: Gaps | None = None
    codes: tuple[str, ...] = ()


def outcome_sets(records: Sequence[CouncilRecord], model: ContextModel,
                 data_dir: str | Path, legacy: LegacyModel | None = None,
                 ) -> dict[str, OutcomeSet]:
    """Return the scored areas' outcome indicators for the councils that deliver each area."""
    topics = _lait_topics(Path(data_dir))
    sets = {}
    for area in SCORED_AREAS:
        wanted = (lambda key: key.startswith("asc:")) if area == "adult_social_care" else (
            lambda key, a=area: key.startswith("lait:") and topics.get(key[5:]) in AREA_TOPICS[a])
        councils = [r for r in records if delivers(r.place.council_type, area)
                    and any(wanted(k) for k in r.outcome_indicators)]
        keys = sorted({k for r in councils for k in r.outcome_indicators if wanted(k)})
        values = np.array([[r.outcome_indicators.get(k, np.nan) for k in keys]
                           for r in councils], dtype=float)
        enough = (~np.isnan(values)).sum(axis=0) >= MIN_COUNCILS
        values = np.clip(values[:, enough], -Z_CLIP, Z_CLIP)
        codes = tuple(r.place.gss_code for r in councils)
        sets[area] = OutcomeSet(area, tuple(np.array(keys)[enough]), values,
                                model.gaps(codes, area),
                                legacy.gaps(codes) if legacy is not None else None, codes)
    return sets


def _lait_topics(data_dir: Path) -> dict[str, str]:
    with (data_dir / LAIT_DICTIONARY).open(encoding="utf-8", newline="") as handle:
        return {row["Measure_short"]: row["Topic"] for row in csv.DictReader(handle)}


def errors_for_order(order: np.ndarray, values: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Return each council's mean absolute error when predicted from its first k neighbours.

    ``order[i]`` lists the other councils from nearest to farthest; for each indicator the first
    ``k`` of them that report it are averaged.
    """
    known = ~np.isnan(values)
    ordered_known = known[order]  # councils x neighbours x indicators
    picked = ordered_known & (np.cumsum(ordered_known, axis=1) <= k)
    total = np.where(picked, np.nan_to_num(values)[order], 0.0).sum(axis=1)
    prediction = total / np.maximum(picked.sum(axis=1), 1)
    error = np.where(known, np.abs(prediction - np.nan_to_num(values)), np.nan)
    return np.nanmean(error, axis=1)


def nearest_order(distances: np.ndarray) -> np.ndarray:
    """Return, per council, the other councils from nearest to farthest (itself left out)."""
    d = distances.astype(float, copy=True)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :-1]


def weighted_errors(outcomes: OutcomeSet, weights: Mapping[str, float],
                    rows: np.ndarray | None = None) -> np.ndarray:
    """Return per-council errors of the neighbours one weighting finds (within ``rows``)."""
    rows = np.arange(len(outcomes.values)) if rows is None else rows
    distances = combine_gaps(outcomes.gaps, weights)[np.ix_(rows, rows)]
    return errors_for_order(nearest_order(distances), outcomes.values[rows])


def legacy_errors(outcomes: OutcomeSet, rows: np.ndarray | None = None) -> np.ndarray:
    """Return per-council errors of the neighbours the model before the Census context found."""
    rows = np.arange(len(outcomes.values)) if rows is None else rows
    weights = {**LEGACY_DEFAULTS, **LEGACY_WEIGHTS.get(outcomes.area, {})}
    distances = legacy_combine(outcomes.legacy, weights)[np.ix_(rows, rows)]
    return errors_for_order(nearest_order(distances), outcomes.values[rows])


def random_errors(outcomes: OutcomeSet, seed: int = 7) -> np.ndarray:
    """Return per-council errors of random neighbours, averaged over several draws."""
    rng = np.random.default_rng(seed)
    n = len(outcomes.values)
    draws = [errors_for_order(nearest_order(rng.random((n, n))), outcomes.values)
             for _ in range(RANDOM_DRAWS)]
    return np.mean(draws, axis=0)


def median_errors(outcomes: OutcomeSet) -> np.ndarray:
    """Return per-council errors of predicting every council by the national median."""
    values = outcomes.values
    error = np.abs(values - np.nanmedian(values, axis=0))
    return np.nanmean(error, axis=1)
