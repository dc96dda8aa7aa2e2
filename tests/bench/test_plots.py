"""The benchmark plots: drawn from the figures a run printed, as PNG files."""

from __future__ import annotations

from matplotlib import image

from bench import plots

ROWS = [
    ["intake, sqlite: POST /api/v1/profiles", "84 req/s", "durable: 544 req/s", "0.15", "≥ 0.5",
     "no"],
    ["end to end, sqlite, p50", "37 ms", "no-op: 2.9 ms", "12.8", "≤ 8", "no"],
    ["end to end, sqlite, p95", "44 ms", "no-op: 3.9 ms", "11", "< 1 s", "yes"],
    ["worker throughput, sqlite", "71 matches/s", "no-op: 492 tasks/s", "0.31", "≥ 0.3", "yes"],
]


def test_only_rows_with_a_ratio_target_are_plotted_and_met_is_read_each_way():
    assert plots.ratio_points(ROWS) == [
        ("intake, sqlite: POST /api/v1/profiles", 0.15, 0.5, True),
        ("end to end, sqlite, p50", 12.8, 8.0, False),
        ("worker throughput, sqlite", 0.31, 0.3, True),
    ]


def test_ratios_and_scale_are_written_as_png(tmp_path):
    drawn = plots.ratios(plots.ratio_points(ROWS), tmp_path / "perf.png")
    assert image.imread(drawn).shape[0] > 100
    figures = [{"size": n, "p50_ms": n / 1e5, "p95_ms": n / 5e4, "sklearn_p50_ms": n / 1e4,
                "sklearn_p95_ms": n / 5e3} for n in (400, 10_000, 100_000)]
    drawn = plots.scale(figures, tmp_path / "plots" / "scale.png")
    assert drawn.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.rglob("*.tmp.png"))
