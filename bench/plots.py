"""Plots of the benchmarks' figures (PNG, matplotlib), for the README and the docs.

``scale`` draws match latency against the number of profiles beside scikit-learn's brute force;
``ratios`` draws how much of its target each performance ratio reaches. Both write the file
atomically and return its path; matplotlib draws off screen (the Agg backend), so no display is
needed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from bench import PROJECT_ROOT

PLOTS = PROJECT_ROOT / "docs" / "plots"
TARGET = re.compile(r"^\s*([≥≤])\s*([\d.]+)\s*$")


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot, *pyplot.subplots(figsize=(width, height), dpi=110)


def _save(pyplot, figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp.png")
    figure.tight_layout()
    figure.savefig(partial, format="png")
    pyplot.close(figure)
    os.replace(partial, path)
    return path


def scale(figures: Sequence[dict[str, float]], path: Path = PLOTS / "scale.png") -> Path:
    """Match latency (p50 and p95) against profiles, ours beside scikit-learn, log-log."""
    pyplot, figure, axes = _figure(7, 4.2)
    sizes = [f["size"] for f in figures]
    for key, label, style, colour in (
            ("p50_ms", "partnermatch p50", "o-", "#1d70b8"),
            ("p95_ms", "partnermatch p95", "o--", "#1d70b8"),
            ("sklearn_p50_ms", "scikit-learn brute force p50", "s-", "#f47738"),
            ("sklearn_p95_ms", "scikit-learn brute force p95", "s--", "#f47738")):
        axes.plot(sizes, [f[key] for f in figures], style, color=colour, label=label)
    axes.set(xscale="log", yscale="log", xlabel="candidate profiles",
             ylabel="one match, milliseconds", title="Match latency against profiles")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    return _save(pyplot, figure, path)


def ratio_points(rows: Sequence[Sequence[str]]) -> list[tuple[str, float, float, bool]]:
    """(label, ratio, target, higher is better) of each table row whose target is a ratio."""
    points = []
    for row in rows:
        label, ratio, target = row[0], row[3], row[4]
        found = TARGET.match(target)
        if found:
            points.append((label, float(ratio.split()[0]), float(found.group(2)),
                           found.group(1) == "≥"))
    return points


def ratios(points: Sequence[tuple[str, float, float, bool]],
           path: Path = PLOTS / "perf.png") -> Path:
    """Each ratio as the share of its target reached (1: met), labelled with the ratio itself."""
    pyplot, figure, axes = _figure(9, 0.55 * len(points) + 1.6)
    shares = [(r / t) if higher else (t / r) for _, r, t, higher in points]
    positions = range(len(points))
    axes.barh(positions, shares, color=["#00703c" if s >= 1 else "#d4351c" for s in shares])
    axes.axvline(1.0, color="black", linewidth=1.5, label="target met")
    for y, share, (_, ratio, target, higher) in zip(positions, shares, points, strict=True):
        axes.annotate(f"{ratio:g} (target {'≥' if higher else '≤'} {target:g})",
                      (share, y), xytext=(4, 0), textcoords="offset points", va="center",
                      fontsize=8)
    axes.set(yticks=list(positions), xlim=(0, max(1.6, max(shares) * 1.35)),
             xlabel="share of the target reached (ratio to the ceiling measured in the same run)",
             title="Performance against targets")
    axes.set_yticklabels([label for label, *_ in points], fontsize=8)
    axes.invert_yaxis()
    axes.legend(loc="lower right")
    axes.grid(True, axis="x", alpha=0.3)
    return _save(pyplot, figure, path)
