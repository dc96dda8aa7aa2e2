"""Confidence intervals by bootstrap, and the figures the reports print."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOOTSTRAP_DRAWS = 2000
SEED = 20240601


@dataclass(frozen=True)
class Estimate:
    """A mean with a 95% bootstrap confidence interval."""

    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap(values: np.ndarray, clusters: np.ndarray | None = None,
              draws: int = BOOTSTRAP_DRAWS, seed: int = SEED) -> Estimate:
    """Return the mean of per-unit values with a percentile 95% interval.

    With ``clusters``, whole clusters are resampled (a council seen at several cutoffs counts once
    per draw), so repeated measurements of one council do not narrow the interval.
    """
    values = np.asarray(values, dtype=float)
    clusters = np.arange(len(values)) if clusters is None else np.asarray(clusters)
    names, index = np.unique(clusters, return_inverse=True)
    sums = np.bincount(index, weights=values, minlength=len(names))
    counts = np.bincount(index, minlength=len(names)).astype(float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(names), size=(draws, len(names)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Estimate(float(values.mean()), float(low), float(high))


def table(header: list[str], rows: list[list[str]]) -> str:
    """Format rows as a Markdown table, so the README can take it as printed."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
