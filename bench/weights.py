"""Choose each service area's context weights so that neighbours predict held-out outcomes.

A coordinate search over a small grid, starting from equal weights: each feature's weight in turn
takes the grid value that lowers the mean neighbour-prediction error (``bench.outcomes``) most,
until a pass changes nothing. Each departure from equal weights costs ``PENALTY`` per doubling or
halving (a zero weight costs as much as three), because with ~150 councils an unpenalised search
fits noise: in cross-validation it did no better than equal weights for adult social care and
children's services. Its honesty is checked by cross-validation: the search sees only the
training councils (as targets and as neighbours), and the weights it picks are scored on the
councils it never saw, beside equal weights scored on the same councils.

Run ``python -m bench.weights`` to repeat the search; its output is where the constants in
``shared/context.py`` (``AREA_WEIGHTS``) came from. The matching never fits weights at run time.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bench.outcomes import EQUAL_WEIGHTS, OutcomeSet, weighted_errors
from bench.reference import load_outcome_sets
from bench.stats import Estimate, bootstrap, table
from shared.context import FEATURES

GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
PENALTY = 0.005
ZERO_COST = 3.0  # doublings
MAX_PASSES = 4
MIN_GAIN = 1e-4
FOLDS = 5
REPEATS = 2


def search(outcomes: OutcomeSet, rows: np.ndarray | None = None) -> dict[str, float]:
    """Return the weights, from the grid, whose neighbours best predict these councils' outcomes."""
    weights = dict(EQUAL_WEIGHTS)
    best = _objective(outcomes, weights, rows)
    for _ in range(MAX_PASSES):
        changed = False
        for name in FEATURES:
            for value in GRID:
                trial = {**weights, name: value}
                error = _objective(outcomes, trial, rows)
                if error < best - MIN_GAIN:
                    weights, best, changed = trial, error, True
        if not changed:
            break
    return weights


def _objective(outcomes: OutcomeSet, weights: Mapping[str, float],
               rows: np.ndarray | None) -> float:
    departure = sum(abs(np.log2(w)) if w > 0 else ZERO_COST for w in weights.values())
    return float(weighted_errors(outcomes, weights, rows).mean()) + PENALTY * departure


@dataclass(frozen=True)
class CrossValidated:
    """Out-of-sample errors per council: searched weights against equal weights."""

    searched: np.ndarray
    equal: np.ndarray


def cross_validate(outcomes: OutcomeSet, seed: int = 11) -> CrossValidated:
    """Score the search on councils it did not see, averaged over repeated K-fold splits."""
    n = len(outcomes.values)
    searched, equal = np.zeros(n), np.zeros(n)
    rng = np.random.default_rng(seed)
    for _ in range(REPEATS):
        folds = np.array_split(rng.permutation(n), FOLDS)
        for test in folds:
            train = np.setdiff1d(np.arange(n), test)
            weights = search(outcomes, train)
            searched[test] += _test_errors(outcomes, weights, test)
            equal[test] += _test_errors(outcomes, EQUAL_WEIGHTS, test)
    return CrossValidated(searched / REPEATS, equal / REPEATS)


def _test_errors(outcomes: OutcomeSet, weights: Mapping[str, float],
                 test: np.ndarray) -> np.ndarray:
    """Return the errors of test councils whose neighbours may be any council."""
    return weighted_errors(outcomes, weights)[test]


def differences(cv: CrossValidated) -> Estimate:
    """Return searched minus equal error per council, with its interval (negative is better)."""
    return bootstrap(cv.searched - cv.equal)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    rows, chosen = [], {}
    for area, outcomes in load_outcome_sets(args.data_dir).items():
        cv = cross_validate(outcomes)
        chosen[area] = search(outcomes)
        rows.append([area, str(bootstrap(cv.searched)), str(bootstrap(cv.equal)),
                     str(differences(cv))])
    print("Context weights chosen so neighbours predict held-out outcomes "
          f"({FOLDS}-fold cross-validation x{REPEATS}; mean absolute error, robust z; 95% CI)\n")
    print(table(["area", "searched weights (out of sample)", "equal weights",
                 "searched - equal"], rows))
    print("\nWeights chosen on all councils (paste into AREA_WEIGHTS):")
    for area, weights in chosen.items():
        print(f"    {area!r}: {weights},")


if __name__ == "__main__":
    main()
