"""Scale benchmark: one match over N candidate profiles, beside scikit-learn's brute force.

For each N (default 400, 10k, 100k and 1M synthetic profiles, ``bench.synthetic``) a fresh
process builds a ``MatchIndex`` and measures: build time, match latency (p50, p95 over requests
with one to three needs, ten partners each), incremental update time (a new version of an indexed
profile), the index's memory (resident set growth while building, and the process's peak), and
then scikit-learn ``NearestNeighbors(metric="cosine", algorithm="brute")`` over the same feature
matrix (each profile's context embedding, ``ContextModel.embedding``), queried once per need of
each match with the same k. The ratio is scikit-learn's p50 over ours, measured in the same process.
Figures are printed, never asserted.

Run: ``python -m bench.scale`` (all sizes) or ``python -m bench.scale --sizes 400,10000``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench.reference import context_model, councils, data_dir
from bench.stats import table
from bench.synthetic import Profiles
from shared.matching import MatchIndex, batched, struggling_areas

SIZES = (400, 10_000, 100_000, 1_000_000)
LIMIT = 10
UPDATES = 200
WARM_UP = 5
BLOCK = 25


def _status_mb(field: str) -> float | None:
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def rss_mb() -> float:
    """Return this process's resident set size now, in MiB (Linux), else its peak."""
    return _status_mb("VmRSS") or peak_mb()


def peak_mb() -> float:
    """Return this process's peak resident set size in MiB.

    VmHWM starts afresh at exec; ``ru_maxrss`` would carry the parent's peak across the fork.
    """
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(seconds: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.array(seconds) * 1000, [50, 95])
    return float(p50), float(p95)


def build(index: MatchIndex, profiles: Profiles, size: int,
          place_rows: np.ndarray) -> tuple[float, list[str]]:
    """Add ``size`` profiles in batches; return the time spent indexing and some of their ids."""
    spent, sample = 0.0, []
    every = max(1, size // UPDATES)
    for batch in batched(profiles.candidates(size, place_rows)):
        started = time.perf_counter()
        index.extend(batch)
        spent += time.perf_counter() - started
        sample += [c.profile_id for c in batch[:: every]][: UPDATES - len(sample)]
    return spent, sample


def timed_updates(index: MatchIndex, profiles: Profiles, ids: list[str]) -> list[float]:
    """Upsert a new version of indexed profiles one at a time, as the worker does."""
    fresh = Profiles(profiles.places, seed=profiles.seed + 1).candidates(len(ids))
    seconds = []
    for profile_id, candidate in zip(ids, islice(fresh, len(ids)), strict=True):
        updated = replace(candidate, profile_id=profile_id)
        started = time.perf_counter()
        index.upsert(updated)
        seconds.append(time.perf_counter() - started)
    return seconds


def sklearn_search(context, place_rows: np.ndarray):
    """Return scikit-learn's brute-force cosine search over each profile's context embedding."""
    from sklearn.neighbors import NearestNeighbors

    places = context.embedding()
    features = np.vstack([places, np.zeros((1, places.shape[1]))])[place_rows]  # -1: supplier
    return NearestNeighbors(metric="cosine", algorithm="brute").fit(features), places


def timed_pairs(index: MatchIndex, search, places: np.ndarray,
                requests: list) -> tuple[list[float], list[float]]:
    """Time the requests by both in alternating blocks, so drift in the machine's load hits both.

    Blocks (rather than request by request) keep each method's data warm in the caches, as a
    worker matching one request after another would. scikit-learn answers one nearest-neighbour
    query per need, as the index makes one ranking per need.
    """
    ours, theirs = [], []
    for start in range(0, len(requests), BLOCK):
        block = requests[start: start + BLOCK]
        for request in block[:WARM_UP]:
            index.match(request, LIMIT)
        ours += [_timed(index.match, request, LIMIT) for request in block]
        queries = [(places[[index.context.row(r.gss_code)]],
                    struggling_areas(r, r.council_type)) for r in block]
        for query, needs in queries[:WARM_UP]:
            _kneighbours(search, query, needs)
        theirs += [_timed(_kneighbours, search, query, needs) for query, needs in queries]
    return ours, theirs


def _kneighbours(search, query: np.ndarray, needs: list) -> None:
    for _ in needs:
        search.kneighbors(query, n_neighbors=LIMIT)


def _timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def measure(size: int, sklearn_threads: int | None = 1) -> dict[str, float]:
    """Measure one size in this process and return the figures."""
    folder = data_dir()
    context = context_model(folder)
    profiles = Profiles([r.place for r in councils(folder)])
    requests = profiles.requests(100 if size >= 1_000_000 else 300)
    place_rows = np.empty(size, dtype=np.int64)
    before = rss_mb()
    index = MatchIndex(context)
    build_seconds, sample = build(index, profiles, size, place_rows)
    grown = rss_mb() - before
    updates = percentiles(timed_updates(index, profiles, sample))
    for request in requests[:WARM_UP]:
        index.match(request, LIMIT)
    peak = peak_mb()
    with threadpool_limits(limits=sklearn_threads):
        search, places = sklearn_search(context, place_rows)
        ours, theirs = timed_pairs(index, search, places, requests)
    (p50, p95), (sklearn_p50, sklearn_p95) = percentiles(ours), percentiles(theirs)
    return {"size": size, "build_s": build_seconds, "p50_ms": p50, "p95_ms": p95,
            "update_p50_ms": updates[0], "update_p95_ms": updates[1], "index_mb": grown,
            "arrays_mb": index.nbytes() / 2**20, "peak_rss_mb": peak,
            "sklearn_p50_ms": sklearn_p50, "sklearn_p95_ms": sklearn_p95}


def row(figures: dict[str, float]) -> list[str]:
    return [
        f"{int(figures['size']):,}", f"{figures['p50_ms']:.2f}", f"{figures['p95_ms']:.2f}",
        f"{figures['sklearn_p50_ms']:.2f}", f"{figures['sklearn_p95_ms']:.2f}",
        f"{figures['sklearn_p50_ms'] / figures['p50_ms']:.1f}x",
        f"{figures['build_s']:.1f}", f"{figures['update_p50_ms']:.2f}",
        f"{figures['index_mb']:.0f}", f"{figures['arrays_mb']:.0f}",
        f"{figures['peak_rss_mb']:.0f}",
    ]


HEADER = ["profiles", "match p50 ms", "match p95 ms", "sklearn p50 ms", "sklearn p95 ms",
          "sklearn/ours p50", "build s", "update p50 ms", "index MiB", "of which arrays",
          "peak RSS MiB"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated numbers of profiles")
    parser.add_argument("--sklearn-threads", type=int, default=1,
                        help="BLAS/OpenMP threads for scikit-learn (0: its default, all cores); "
                             "the index uses one core, as each worker process does")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process's size
    args = parser.parse_args(argv)
    threads = args.sklearn_threads or None
    if args.one:
        print(json.dumps(measure(args.one, threads)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        child = subprocess.run([sys.executable, "-m", "bench.scale", "--one", str(size),
                                "--sklearn-threads", str(args.sklearn_threads)],
                               capture_output=True, text=True, check=True)
        rows.append(row(json.loads(child.stdout.splitlines()[-1])))
        print(f"  measured {size:,} profiles", file=sys.stderr)
    cores = f"{args.sklearn_threads} thread(s)" if args.sklearn_threads else "all cores"
    print(f"Matching at scale (one process per size; {LIMIT} partners per need; scikit-learn "
          f"on {cores}, queried once per need of the same requests; timed in alternating blocks)\n")
    print(table(HEADER, rows))
    print("\nindex MiB: resident memory grown while building (arrays, ids, names); peak RSS: "
          "the whole process, interpreter and libraries included, before scikit-learn's "
          "matrix is built.")


if __name__ == "__main__":
    main()
