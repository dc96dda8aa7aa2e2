"""How steeply should similarity fall with distance? The ranking's yardsticks, shape by shape.

The context's similarity is ``2 ** -((d / s) ** power)``, ``s`` the median distance of the area's
councils to their ``k``-th nearest neighbour (``shared/matching/context.py``). A larger power or a
smaller ``k`` makes circumstances count for more against strength in the ranking. Each shape is
scored in the same run on the same requests, beside the shape the model had before (k 3, power 1):

- are the partners comparable (``bench.comparability``, children's services and adult social
  care): the partners' outcome-prediction error, precision@10 and nDCG@10 for partners both strong
  and comparable, and the share rated outstanding;
- the ranking held out by time (``bench.holdout``): were the partners recommended to councils weak
  in children's services still good or outstanding at their next inspection?

Differences are paired (the same requests), with 95% bootstrap intervals (clustered by requester
for the held-out label). Run: ``python -m bench.shape``.
"""

from __future__ import annotations

import argparse

import numpy as np

from bench import comparability, holdout
from bench.reference import councils, data_dir, load_outcome_sets
from bench.stats import bootstrap, table
from partnermatch.shared.matching.context import ContextModel

BEFORE = (3, 1.0)
SHAPES = ((3, 1.0), (2, 1.0), (1, 1.0), (3, 1.25), (2, 1.25), (3, 1.5), (3, 2.0), (2, 2.0))


def measure(folder: str, k: int, power: float) -> dict[str, object]:
    """Return the comparability scores per area and the held-out label for one shape."""
    records = councils(folder)
    model = ContextModel.fit([r.place for r in records], scale_neighbours=k, power=power)
    sets = load_outcome_sets(folder)
    found: dict[str, object] = {}
    for area in comparability.AREAS:
        weak, strong = comparability.requests(records, area)
        found[area] = comparability.score(comparability.model_method(model, area, strong),
                                          weak, strong, sets[area])
    found["held"] = holdout.model_method(model)(holdout.queries(records))
    return found


def _paired(values: np.ndarray, before: np.ndarray, clusters: np.ndarray | None = None) -> str:
    known = ~np.isnan(values) & ~np.isnan(before)
    return str(bootstrap((values - before)[known],
                         None if clusters is None else clusters[known]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    folder = data_dir(args.data_dir)
    clusters = np.array([q.requester.gss for q in holdout.queries(councils(folder))])
    found = {shape: measure(folder, *shape) for shape in SHAPES}
    before = found[BEFORE]
    rows = []
    for (k, power), scores in found.items():
        label = f"k {k}, power {power:g}" + (" (before)" if (k, power) == BEFORE else "")
        for area in comparability.AREAS:
            mine, theirs = scores[area], before[area]
            rows.append([label, area, f"{np.nanmean(mine.error):.3f}",
                         _paired(mine.error, theirs.error),
                         f"{mine.precision.mean():.3f}", _paired(mine.precision, theirs.precision),
                         f"{np.nanmean(mine.ndcg):.3f}", _paired(mine.ndcg, theirs.ndcg),
                         f"{mine.outstanding.mean():.2f}"])
            label = ""
        held = scores["held"]
        rows.append(["", "held out by time (children's)", f"{np.nanmean(held):.3f}",
                     _paired(held, before["held"], clusters), "", "", "", "", ""])
    print("Similarity shapes: the ranking's yardsticks, each minus the shape before "
          f"(k {BEFORE[0]}, power {BEFORE[1]:g}); 95% CI\n")
    print(table(["shape", "area", "partners' error", "minus before", "precision@10",
                 "minus before", "nDCG@10", "minus before", "share outstanding"], rows))


if __name__ == "__main__":
    main()
