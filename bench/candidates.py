"""Do features and methods the model lacks earn a place? Scored by the context yardstick.

Each candidate is scored as ``bench.weights`` scores weights: the 10 nearest neighbours of each
English council predict its own held-out outcome indicators (``bench.outcomes``), mean absolute
error in robust z, 95% bootstrap interval; differences are candidate minus the model's weights
(negative: the candidate's neighbours predict better).

1. **More Census 2021 features**, each added as its own block at weight 1 beside the model's
   per-area weights: what NHS England's adult social care peer groups and comparator methods use
   and the model lacks, from the ONS tables shipped with it: the share aged 85 and over and the
   share aged 0-4 (TS007A), households with no car and with two or more (TS045), residents with
   no passport, and armed forces veterans (the Census indicators file). A candidate is scaled as
   the model scales its blocks (median and interquartile range), over the area's scored councils.
2. **Size, type and geography**: each of the model's blocks its area does not weigh (population,
   area, rurality, distance, council type, region) switched on at weight 1, to see whether it
   earns a place there.
3. **The weight search over the larger pool**: ``bench.weights``' penalised search, allowed to
   weigh the candidate blocks too, cross-validated the same way (``RepeatedKFold``, 5 folds x2).
4. **Weights from the outcomes themselves** (a supervised metric, as regression-weighted
   statistical neighbour methods do): a ridge regression (``RidgeCV``, its penalty chosen within
   the training councils) from the model's columns to the area's outcome indicators, fitted on
   the training councils only; neighbours are the councils whose predicted outcomes are nearest.
   Scored out of sample on the same splits. The model does not do this: it would make the
   context depend on the outcomes it is judged by, refitted with them at every refresh.

Run: ``python -m bench.candidates``. It prints; the model's weights stay in
``shared/matching/context.py`` and change only when a candidate beats them out of sample.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import replace

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import RepeatedKFold
from sklearn.preprocessing import RobustScaler

from bench.outcomes import OutcomeSet, errors_for_order, nearest_order, weighted_errors
from bench.reference import context_model, councils, data_dir, load_outcome_sets
from bench.stats import bootstrap, table
from bench.weights import FOLDS, REPEATS, cross_validate
from partnermatch.shared.matching.context import COLUMNS, FEATURES, ContextModel, Gaps

CANDIDATES: dict[str, tuple[str, ...]] = {
    "oldest (85+, TS007A)": ("age_85plus_perc",),
    "under fives (TS007A)": ("age_0-4_perc",),
    "car availability (TS045)": ("cars_none_perc", "cars_two_plus_perc"),
    "no passport": ("no_passport_perc",),
    "armed forces veterans": ("armed_forces_perc",),
}
ALPHAS = tuple(np.logspace(-1, 3, 9))
SEED = 11


def _scaled(values: np.ndarray) -> np.ndarray:
    """Robust-scale columns (median, interquartile range) and put unknowns at the median."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nan_to_num(RobustScaler().fit_transform(values))


def _gap(z: np.ndarray) -> np.ndarray:
    """Return the mean squared gap over a block's columns between every pair of councils."""
    return ((z[:, None, :] - z[None, :, :]) ** 2).mean(axis=2)


def with_candidates(outcomes: OutcomeSet, folder: str) -> OutcomeSet:
    """Return the outcome set with each candidate block's gaps beside the model's."""
    places = {r.place.gss_code: r.place for r in councils(folder)}
    blocks = dict(outcomes.gaps.blocks)
    for name, columns in CANDIDATES.items():
        values = np.array([[places[g].census.get(c, np.nan) for c in columns]
                           for g in outcomes.codes], dtype=float)
        blocks[name] = _gap(_scaled(values))
    return replace(outcomes, gaps=Gaps(outcomes.gaps.gss_codes, blocks))


def ridge_errors(outcomes: OutcomeSet, folder: str, seed: int = SEED) -> np.ndarray:
    """Return out-of-sample errors of neighbours by predicted outcomes (a ridge fitted on the
    training councils from the model's columns), on ``bench.weights``' splits."""
    places = {r.place.gss_code: r.place for r in councils(folder)}
    raw = ContextModel.columns_of([places[g] for g in outcomes.codes])[:, :len(COLUMNS)]
    x = _scaled(raw.astype(float))
    y = outcomes.values
    n = len(y)
    found = np.zeros(n)
    splits = RepeatedKFold(n_splits=FOLDS, n_repeats=REPEATS, random_state=seed)
    for train, test in splits.split(np.arange(n)):
        filled = np.where(np.isnan(y), np.nanmedian(y[train], axis=0), y)
        predicted = RidgeCV(alphas=ALPHAS).fit(x[train], filled[train]).predict(x)
        squares = (predicted ** 2).sum(axis=1)
        distances = np.sqrt(np.maximum(
            squares[:, None] + squares[None, :] - 2 * predicted @ predicted.T, 0.0))
        found[test] += errors_for_order(nearest_order(distances), y)[test]
    return found / REPEATS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    folder = data_dir(args.data_dir)
    rows = []
    for area, base in load_outcome_sets(args.data_dir).items():
        weights = context_model(folder).weights(area)
        model = weighted_errors(base, weights)
        outcomes = with_candidates(base, folder)
        rows.append([area, "the model's weights", str(bootstrap(model)), ""])
        for name in (*CANDIDATES, *(f for f in FEATURES if not weights.get(f))):
            errors = weighted_errors(outcomes, {**weights, name: 1.0})
            rows.append(["", f"+ {name}", str(bootstrap(errors)), str(bootstrap(errors - model))])
        cv = cross_validate(outcomes, names=(*FEATURES, *CANDIDATES))
        rows.append(["", "weight search over every block and candidate (out of sample)",
                     str(bootstrap(cv.searched)), str(bootstrap(cv.searched - model))])
        ridge = ridge_errors(base, folder)
        rows.append(["", "neighbours by ridge-predicted outcomes (out of sample)",
                     str(bootstrap(ridge)), str(bootstrap(ridge - model))])
    print("Candidate features and methods: neighbours' error predicting held-out outcomes "
          f"(MAE, robust z; {FOLDS}-fold CV x{REPEATS} where fitted; 95% CI)\n")
    print(table(["area", "neighbours from", "error", "minus the model"], rows))


if __name__ == "__main__":
    main()
