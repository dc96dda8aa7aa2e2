"""Per-minute bar charts with axes and time labels, drawn as inline SVG by the template."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WIDTH, HEIGHT = 300, 110  # the whole drawing
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 8, 26  # room for the axis labels
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TICK_MINUTES = (60, 30, 0)  # time labels: an hour ago, half an hour ago, now


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    x_ticks: list[Tick]  # along the bottom: clock times (UTC)
    y_ticks: list[Tick]  # up the left: 0 and the busiest minute's count


def bars(values: list[int]) -> list[Bar]:
    """Return the bars of a chart of per-minute counts, scaled to the busiest minute."""
    peak = max(values, default=0) or 1
    step = PLOT_WIDTH / max(len(values), 1)
    return [Bar(LEFT + i * step, TOP + PLOT_HEIGHT - PLOT_HEIGHT * v / peak, max(step - 1, 1),
                PLOT_HEIGHT * v / peak)
            for i, v in enumerate(values) if v]


def chart(values: list[int], end: datetime) -> Chart:
    """Return a chart of the per-minute counts of the hour that ends at `end`."""
    peak = max(values, default=0)
    x_ticks = [Tick(LEFT + PLOT_WIDTH * (60 - minutes) / 60,
                    (end - timedelta(minutes=minutes)).strftime("%H:%M"))
               for minutes in TICK_MINUTES]
    y_ticks = [Tick(TOP + PLOT_HEIGHT, "0")]
    if peak:
        y_ticks.append(Tick(TOP, str(peak)))
    return Chart(bars(values), x_ticks, y_ticks)
