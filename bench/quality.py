"""The quality report: the model judged on real data with labels the ranking never uses.

1. Context neighbours (``bench.outcomes``): how well a council's 10 nearest neighbours predict its
   own outcome indicators, under the model's per-area weights, equal (CIPFA-style) weights, the
   hand-set weights they replaced, random neighbours and no neighbours (the national median).
2. The ranking held out by time (``bench.holdout``): partners recommended to councils weak in
   children's services at a cutoff, scored by whether Ofsted judged them good or outstanding at
   their next inspection, beside random strong councils, context only and strength only.

Every figure is a mean with a 95% bootstrap interval. Run: ``python -m bench.quality``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench import comparability, holdout
from bench.outcomes import NEIGHBOURS, median_errors, random_errors, weighted_errors
from bench.reference import (
    context_model,
    councils,
    data_dir,
    legacy_context_model,
    load_outcome_sets,
)
from bench.stats import bootstrap, table
from bench.weights import cross_validate


def context_report(folder: str) -> str:
    """Return the neighbours' outcome-prediction table, one block of rows per service area."""
    rows = []
    for area, outcomes in load_outcome_sets(folder).items():
        model = weighted_errors(outcomes, context_model(folder).weights(area))
        cv = cross_validate(outcomes)
        baseline = median_errors(outcomes).mean()
        named = [
            ("model (shared/matching/context.py)", model, None),
            ("weight search, out of sample (5-fold CV x2)", cv.searched, None),
            ("people-only start", cv.start, None),
            ("equal weights, every block (CIPFA-style)", cv.equal, None),
            ("the model before the Census context", cv.legacy, None),
            ("random neighbours", random_errors(outcomes), None),
            ("no neighbours: national median", median_errors(outcomes), None),
        ]
        for name, errors, _ in named:
            before = "" if errors is cv.legacy else str(bootstrap(cv.legacy - errors))
            equal = "" if errors is cv.equal else str(bootstrap(cv.equal - errors))
            rows.append([area if name.startswith("model (") else "", name,
                         str(bootstrap(errors)), f"{1 - errors.mean() / baseline:+.3f}",
                         before, equal])
    header = ["area", "neighbours from", "error (MAE, robust z)", "skill vs median",
              "before minus this", "equal minus this"]
    return table(header, rows)


def ranking_report(folder: str) -> str:
    """Return the held-out-by-time table for children's services."""
    records = councils(folder)
    context = context_model(folder)
    batch = holdout.queries(records)
    methods = [
        ("model (MatchIndex, as in production)", holdout.model_method(context)),
        ("model without trajectory bonus", holdout.model_method(context, trajectory=False)),
        ("model without diversity", holdout.model_method(context, diversity=False)),
        ("strength only (outstanding first)", holdout.strength_only()),
        ("outstanding first, then nearest (same context)",
         holdout.outstanding_then_nearest(context)),
        ("random strong council", holdout.random_strong()),
        ("context only (statistical neighbours)", holdout.context_only(context)),
    ]
    clusters = np.array([q.requester.gss for q in batch])
    scores = {name: method(batch) for name, method in methods}
    model = scores[methods[0][0]]
    rows = []
    for name, values in scores.items():
        known = ~np.isnan(values)
        difference = "" if values is model else str(
            bootstrap((model - values)[known & ~np.isnan(model)],
                      clusters[known & ~np.isnan(model)]))
        rows.append([name, str(bootstrap(values[known], clusters[known])), difference])
    header = ["recommended by", f"partners good or outstanding next time (top {holdout.TOP})",
              "model minus this"]
    cutoffs = ", ".join(holdout.CUTOFFS)
    return (f"{len(batch)} requests from {len(set(clusters))} councils weak in children's services"
            f" at cutoffs {cutoffs}\n\n" + table(header, rows))


def _nan_free(values: np.ndarray) -> str:
    return str(bootstrap(values[~np.isnan(values)]))


def _minus(model: np.ndarray, values: np.ndarray, same: bool) -> str:
    return "" if same else _nan_free(values - model)


def comparability_report(folder: str) -> str:
    """Return the partners' comparability per area, each method beside the model."""
    records, context = councils(folder), context_model(folder)
    legacy = legacy_context_model(folder)
    outcome_sets = load_outcome_sets(folder)
    rows = []
    for area in comparability.AREAS:
        weak, strong = comparability.requests(records, area)
        methods = [
            ("the model (MatchIndex)",
             comparability.model_method(context, area, strong), 1),
            ("the model without diversity",
             comparability.model_method(context, area, strong, diversity=False), 1),
            ("outstanding first, then nearest (same context)",
             comparability.naive_method(context, area), 1),
            ("outstanding first, then nearest (context before the Census blocks)",
             comparability.naive_method(legacy, area), 1),
            ("nearest strong councils, any grade (same context)",
             comparability.naive_method(context, area, outstanding_first=False), 1),
            ("random strong councils", comparability.random_method(),
             comparability.RANDOM_DRAWS),
        ]
        found = {name: comparability.score(method, weak, strong, outcome_sets[area], draws)
                 for name, method, draws in methods}
        model = found[methods[0][0]]
        for name, scores in found.items():
            known = ~np.isnan(scores.error) & ~np.isnan(model.error)
            minus = "" if scores is model else str(bootstrap((scores.error - model.error)[known]))
            rows.append([area if scores is model else "", name,
                         str(bootstrap(scores.error[known])), minus,
                         str(bootstrap(scores.outstanding)), str(bootstrap(scores.precision)),
                         _minus(model.precision, scores.precision, scores is model),
                         _nan_free(scores.ndcg), _minus(model.ndcg, scores.ndcg, scores is model)])
        rows.append(["", f"({len(weak)} weak councils, {len(strong)} strong)", *[""] * 7])
    header = ["area", f"top {comparability.TOP} partners from",
              "partners' outcome-prediction error", "this minus the model",
              "share rated outstanding", "precision@10, strong and comparable",
              "this minus the model", "nDCG@10", "this minus the model"]
    return table(header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="default: REFERENCE_DATA_DIR")
    args = parser.parse_args(argv)
    folder = data_dir(args.data_dir)
    started = time.perf_counter()
    print(f"Quality report on the public data in {folder}\n")
    print(f"1. Context neighbours: does the mean of a council's {NEIGHBOURS} nearest neighbours "
          "predict its own held-out outcomes?\n   (LAIT children's indicators by topic, ASCOF for "
          "adult social care; lower error is better; 95% CI)\n")
    print(context_report(folder))
    print("\n2. Are the partners comparable? The mean of a weak council's recommended partners' "
          "outcomes predicts its own\n   (lower is more comparable; 95% CI)\n")
    print(comparability_report(folder))
    print("\n3. The ranking held out by time: were recommended partners still good or "
          "outstanding at their next Ofsted inspection?\n")
    print(ranking_report(folder))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
