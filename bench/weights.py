"""Choose each service area's context weights so that neighbours predict held-out outcomes.

A coordinate search over a small grid of block weights
(``partnermatch.shared.matching.context.FEATURES``): each block's weight in turn takes the grid
value that lowers the mean neighbour-prediction error (``bench.outcomes``) most, until a pass
changes nothing. It starts from the people-only weights (``DEFAULT_WEIGHTS``: density, deprivation
and the Census blocks); each departure from the start costs ``PENALTY`` per doubling or halving,
and switching a block on or off costs ``ZERO_COST`` doublings, because with ~150 councils an
unpenalised search fits noise.

Its honesty is checked by cross-validation (scikit-learn's ``RepeatedKFold``): the search sees
only the training councils (as targets and as neighbours), and the weights it picks are scored on
the councils it never saw, beside the fixed candidates scored on the same councils: equal weights
over every block (CIPFA-style, size, type and geography included), the people-only start, and the
model before the Census context. An area keeps the searched weights only if they beat every fixed
candidate out of sample (95% interval of the difference below 0 against both the start and equal
weights); otherwise it keeps the start, equal weights over the blocks that describe the people.

Run ``python -m bench.weights`` to repeat the search; its output is where the constants in
``shared/matching/context.py`` (``AREA_WEIGHTS``) came from. The matching never fits weights at run
time.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import RepeatedKFold

from bench.outcomes import EQUAL_WEIGHTS, OutcomeSet, legacy_errors, weighted_errors
from bench.reference import load_outcome_sets
from bench.stats import bootstrap, table
from partnermatch.shared.matching.context import DEFAULT_WEIGHTS, FEATURES

GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
PENALTY = 0.004
ZERO_COST = 3.0  # doublings
MAX_PASSES = 4
MIN_GAIN = 1e-4
FOLDS = 5
REPEATS = 2
START = {name: DEFAULT_WEIGHTS.get(name, 0.0) for name in FEATURES}
START_CHILD = {**START, "child_poverty": 1.0}
CHILD_AREAS = ("childrens_services", "education_send", "public_health")


def start_for(area: str) -> dict[str, float]:
    """Return the people-only start: with child poverty for the children's areas."""
    return dict(START_CHILD if area in CHILD_AREAS else START)


def _departure(weights: Mapping[str, float], start: Mapping[str, float]) -> float:
    cost = 0.0
    for name, value in weights.items():
        origin = start.get(name, 0.0)
        if value == origin:
            continue
        cost += ZERO_COST if 0.0 in (value, origin) else abs(np.log2(value / origin))
    return cost


def search(outcomes: OutcomeSet, rows: np.ndarray | None = None,
           names: Sequence[str] = FEATURES) -> dict[str, float]:
    """Return the weights, from the grid, whose neighbours best predict these councils' outcomes.

    ``names`` are the blocks searched (the model's; ``bench.candidates`` adds its candidates).
    """
    start = start_for(outcomes.area)
    weights = dict(start)
    best = _objective(outcomes, weights, rows, start)
    for _ in range(MAX_PASSES):
        changed = False
        for name in names:
            for value in GRID:
                trial = {**weights, name: value}
                if not any(trial.values()):
                    continue
                error = _objective(outcomes, trial, rows, start)
                if error < best - MIN_GAIN:
                    weights, best, changed = trial, error, True
        if not changed:
            break
    return weights


def _objective(outcomes: OutcomeSet, weights: Mapping[str, float],
               rows: np.ndarray | None, start: Mapping[str, float]) -> float:
    error = float(weighted_errors(outcomes, weights, rows).mean())
    return error + PENALTY * _departure(weights, start)


@dataclass(frozen=True)
class CrossValidated:
    """Out-of-sample errors per council: the searched weights and the fixed candidates."""

    searched: np.ndarray
    equal: np.ndarray  # equal weights over every block
    start: np.ndarray  # the people-only start
    legacy: np.ndarray  # the model before the Census context


def cross_validate(outcomes: OutcomeSet, seed: int = 11,
                   names: Sequence[str] = FEATURES) -> CrossValidated:
    """Score the search on councils it did not see, averaged over repeated K-fold splits."""
    n = len(outcomes.values)
    searched = np.zeros(n)
    splits = RepeatedKFold(n_splits=FOLDS, n_repeats=REPEATS, random_state=seed)
    for train, test in splits.split(np.arange(n)):
        weights = search(outcomes, train, names)
        searched[test] += weighted_errors(outcomes, weights)[test]
    return CrossValidated(
        searched / REPEATS,
        weighted_errors(outcomes, EQUAL_WEIGHTS),
        weighted_errors(outcomes, start_for(outcomes.area)),
        legacy_errors(outcomes) if outcomes.legacy is not None else np.full(n, np.nan))


def beats_fixed(cv: CrossValidated) -> bool:
    """Say whether the search beat both the start and equal weights out of sample (CI below 0)."""
    return all(bootstrap(cv.searched - fixed).high < 0 for fixed in (cv.start, cv.equal))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    rows, chosen = [], {}
    for area, outcomes in load_outcome_sets(args.data_dir).items():
        cv = cross_validate(outcomes)
        chosen[area] = search(outcomes) if beats_fixed(cv) else start_for(area)
        rows.append([area, str(bootstrap(cv.searched)), str(bootstrap(cv.start)),
                     str(bootstrap(cv.equal)), str(bootstrap(cv.legacy)),
                     str(bootstrap(cv.searched - cv.start)),
                     str(bootstrap(cv.searched - cv.equal)),
                     str(bootstrap(cv.searched - cv.legacy))])
    print("Context weights chosen so neighbours predict held-out outcomes "
          f"({FOLDS}-fold cross-validation x{REPEATS}; mean absolute error, robust z; 95% CI)\n")
    print(table(["area", "searched (out of sample)", "people-only start", "equal weights",
                 "before the Census context", "searched - start", "searched - equal",
                 "searched - before"], rows))
    print("\nWeights kept (non-zero blocks): searched on all councils where the search beat both "
          "the people-only start and equal weights out of sample (95% CI below 0), else the "
          "start:")
    for area, weights in chosen.items():
        print(f"    {area!r}: {{{', '.join(f'{k!r}: {v}' for k, v in weights.items() if v)}}},")


if __name__ == "__main__":
    main()
