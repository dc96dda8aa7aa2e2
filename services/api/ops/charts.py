"""Small per-minute bar charts, drawn as inline SVG by the template: no JavaScript."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 240, 40


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float


def bars(values: list[int]) -> list[Bar]:
    """Return the bars of a chart of per-minute counts, scaled to the busiest minute."""
    peak = max(values, default=0) or 1
    step = WIDTH / max(len(values), 1)
    return [Bar(i * step, HEIGHT - HEIGHT * v / peak, max(step - 1, 1), HEIGHT * v / peak)
            for i, v in enumerate(values) if v]
