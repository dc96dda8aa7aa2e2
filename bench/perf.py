"""The performance table: intake, end to end and worker throughput, each beside its ceiling.

Runs ``bench.intake``, ``bench.e2e`` and ``bench.throughput`` on PostgreSQL (a database created
and dropped on the server named by ``--postgres`` or ``TEST_DATABASE_URL``) and SQLite, and prints
one Markdown table of figures, the ceilings measured in the same run, ratios and targets. Shared
machines drift, so read the ratios; figures are printed, never asserted. Takes about ten minutes.

Run: ``python -m bench.perf [--database sqlite] [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from bench import e2e, intake, plots, throughput
from bench.stack import postgres_server
from bench.stats import table

HEADER = ["benchmark", "figure", "ceiling, same run", "ratio", "target", "met"]


def _met(ok: bool) -> str:
    return "yes" if ok else "no"


def intake_rows(found: dict[str, intake.Load]) -> list[list[str]]:
    """One row per database: the full app beside the minimal durable intake on that database."""
    bare = found["bare"]
    rows = []
    for kind in [name for name in found if name != "bare" and not name.endswith(" durable")]:
        load, ceiling = found[kind], found[f"{kind} durable"]
        ratio = load.requests_per_second / ceiling.requests_per_second
        failed = f", {load.failures} failed" if load.failures else ""
        rows.append([
            f"intake, {kind}: POST /api/v1/profiles",
            f"{load.requests_per_second:.0f} req/s, p99 {load.p99_ms:.0f} ms{failed}",
            f"minimal durable intake: {ceiling.requests_per_second:.0f} req/s, "
            f"p99 {ceiling.p99_ms:.0f} ms (validating only: {bare.requests_per_second:.0f})",
            f"{ratio:.2f}", "≥ 0.5", _met(ratio >= 0.5),
        ])
    return rows


def e2e_rows(found: e2e.RoundTrips) -> list[list[str]]:
    p50, noop50 = statistics.median(found.e2e), statistics.median(found.noop)
    p95, noop95 = e2e.percentile(found.e2e, 0.95), e2e.percentile(found.noop, 0.95)
    where = f"end to end, {found.database}: confirmed POST → email at SMTP"
    return [
        [f"{where}, p50", f"{p50 * 1000:.0f} ms", f"no-op task round trip: {noop50 * 1000:.1f} ms",
         f"{p50 / noop50:.1f}", "≤ 8", _met(p50 / noop50 <= 8)],
        [f"{where}, p95", f"{p95 * 1000:.0f} ms", f"no-op task round trip: {noop95 * 1000:.1f} ms",
         f"{p95 / noop95:.1f}", "< 250 ms", _met(p95 < 0.25)],
    ]


def throughput_row(found: throughput.Throughput) -> list[str]:
    return [
        f"worker throughput, {found.database}: match tasks over {found.candidates:,} candidates",
        f"{found.matches_per_second:.0f} matches/s",
        f"no-op tasks: {found.noops_per_second:.0f}/s",
        f"{found.ratio:.2f}", "≥ 0.3", _met(found.ratio >= 0.3),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), action="append")
    parser.add_argument("--postgres", help="server to create databases on "
                        "(default: TEST_DATABASE_URL)")
    parser.add_argument("--quick", action="store_true", help="shorter runs, noisier figures")
    parser.add_argument("--plot", default=str(plots.PLOTS / "perf.png"),
                        help="PNG to draw the ratios in ('' for none)")
    args = parser.parse_args(argv)
    server = postgres_server(args.postgres)
    kinds = args.database or (["postgresql", "sqlite"] if server else ["sqlite"])
    seconds, runs, matches = (4, 10, 100) if args.quick else (10, 40, 400)
    rows = intake_rows(intake.measure(kinds, server, seconds))
    for kind in kinds:
        rows += e2e_rows(e2e.measure(kind, server, runs))
    for kind in kinds:
        rows.append(throughput_row(
            throughput.measure(kind, server, 10_000, matches, noops=500)))
    print(f"load generator for intake: {intake.load_generator()}")
    print(table(HEADER, rows))
    if args.plot:
        print(f"plot: {plots.ratios(plots.ratio_points(rows), Path(args.plot))}")


if __name__ == "__main__":
    main()
