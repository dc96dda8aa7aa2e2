"""Scale benchmark: one match over N candidate profiles, beside scikit-learn's brute force.

For each N (default 400, 10k, 100k and 1M synthetic profiles, ``bench.synthetic``) a fresh
process builds a ``MatchIndex`` and measures: build time, match latency (p50, p95 over requests
with one to three needs, ten partners each), incremental update time (a new version of an indexed
profile), the index's memory (resident set growth while building, and the process's peak), and
then scikit-learn ``NearestNeighbors(metric="cosine", algorithm="brute")`` over the same feature
matrix (each profile's context embedding, ``ContextModel.embedding``), queried once per need of
each match with the same k. The ratio is scikit-learn's p50 over ours, measured in the same process.
Figures are printed, never asserted.

Then (``--workers``, default at 1M) the memory of a whole worker: one process builds the index and
saves it as a machine's shared snapshot (``partnermatch.shared.matching.snapshot``), then two
processes open it, upsert ``UPDATES`` profiles each and match; beside them two processes that each
build their own. Memory is read from ``/proc/<pid>/smaps_rollup`` while both are alive: PSS (shared
pages split between the processes that map them) summed over the processes is what the worker costs
the machine.

Run: ``python -m bench.scale`` (all sizes) or ``python -m bench.scale --sizes 400,10000``;
``--workers 0`` skips the worker memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench import plots
from bench.reference import context_model, councils, data_dir
from bench.stats import table
from bench.synthetic import Profiles
from partnermatch.shared.matching.index import MatchIndex, batched, struggling_areas
from partnermatch.shared.matching.snapshot import SPARE_SHARE
from partnermatch.shared.progress import progress

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
    for batch in batched(progress(profiles.candidates(size, place_rows), "indexing", size)):
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


def smaps_mb(pid: int) -> dict[str, float]:
    """Return a process's resident, proportional, unique and shared memory in MiB (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) / 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields["Private_Clean"] + fields["Private_Dirty"],
            "shared": fields["Shared_Clean"] + fields["Shared_Dirty"]}


def save_snapshot(size: int, folder: Path) -> None:
    """Build the index of ``size`` profiles and save it as a shared snapshot would be."""
    data = data_dir()
    index = MatchIndex(context_model(data))
    profiles = Profiles([r.place for r in councils(data)])
    build(index, profiles, size, np.empty(size, dtype=np.int64))
    index.save(folder, int(size * SPARE_SHARE) + 1024)


def serve(how: str, size: int, folder: str) -> None:
    """Hold an index as a worker process would, match, then wait on stdin to be measured."""
    data = data_dir()
    context = context_model(data)
    profiles = Profiles([r.place for r in councils(data)])
    if how == "shared":
        index = MatchIndex.open(Path(folder), context)
        ids = np.load(Path(folder) / "ids.npy", mmap_mode="r")[:: max(1, size // UPDATES)]
        sample = [pid.decode() for pid in ids[:UPDATES].tolist()]
    else:
        index = MatchIndex(context)
        sample = build(index, profiles, size, np.empty(size, dtype=np.int64))[1]
    timed_updates(index, profiles, sample)
    requests = profiles.requests(100)
    for request in requests[:WARM_UP]:
        index.match(request, LIMIT)
    p50, p95 = percentiles([_timed(index.match, request, LIMIT) for request in requests])
    print(json.dumps({"p50_ms": p50, "p95_ms": p95}), flush=True)
    sys.stdin.readline()  # measured now


def worker_memory(size: int, processes: int = 2) -> list[list[str]]:
    """Measure ``processes`` processes holding the index shared, then each its own copy."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale-index-") as folder:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bench.scale", "--save", str(size), folder],
                       check=True)
        saved = time.perf_counter() - started
        for how in ("shared", "private"):
            children = [subprocess.Popen(
                [sys.executable, "-m", "bench.scale", "--serve", how, str(size), folder],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
            latencies = [json.loads(child.stdout.readline()) for child in children]
            memory = [smaps_mb(child.pid) for child in children]
            for child in children:
                child.communicate("\n", timeout=60)
            total = {key: sum(m[key] for m in memory) for key in memory[0]}
            rows.append([how, f"{size:,}", str(processes), f"{total['pss']:.0f}",
                         f"{total['uss']:.0f}", f"{total['rss']:.0f}",
                         " / ".join(f"{m['pss']:.0f}" for m in memory),
                         " / ".join(f"{lat['p50_ms']:.2f}" for lat in latencies),
                         f"{saved:.0f}" if how == "shared" else "-"])
            print(f"  measured {processes} {how} processes at {size:,}", file=sys.stderr)
    return rows


WORKER_HEADER = ["index", "profiles", "processes", "PSS MiB (sum)", "USS MiB (sum)",
                 "RSS MiB (sum)", "PSS MiB each", "match p50 ms each", "build+save s"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated numbers of profiles")
    parser.add_argument("--sklearn-threads", type=int, default=1,
                        help="BLAS/OpenMP threads for scikit-learn (0: its default, all cores); "
                             "the index uses one core, as each worker process does")
    parser.add_argument("--workers", type=int, default=SIZES[-1],
                        help="profiles for the worker memory measurement (0: skip it)")
    parser.add_argument("--plot", default=str(plots.PLOTS / "scale.png"),
                        help="PNG to draw the latencies in ('' for none)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process's size
    parser.add_argument("--save", nargs=2, help=argparse.SUPPRESS)  # size, folder
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)  # how, size, folder
    args = parser.parse_args(argv)
    threads = args.sklearn_threads or None
    if args.one:
        print(json.dumps(measure(args.one, threads)))
        return
    if args.save:
        save_snapshot(int(args.save[0]), Path(args.save[1]))
        return
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2])
        return
    rows, measured = [], []
    for size in (int(s) for s in args.sizes.split(",")):
        # Standard error stays the terminal's: the child's progress bar shows there.
        child = subprocess.run([sys.executable, "-m", "bench.scale", "--one", str(size),
                                "--sklearn-threads", str(args.sklearn_threads)],
                               stdout=subprocess.PIPE, text=True, check=True)
        measured.append(json.loads(child.stdout.splitlines()[-1]))
        rows.append(row(measured[-1]))
        print(f"  measured {size:,} profiles", file=sys.stderr)
    cores = f"{args.sklearn_threads} thread(s)" if args.sklearn_threads else "all cores"
    print(f"Matching at scale (one process per size; {LIMIT} partners per need; scikit-learn "
          f"on {cores}, queried once per need of the same requests; timed in alternating blocks)\n")
    print(table(HEADER, rows))
    print("\nindex MiB: resident memory grown while building (arrays, ids, names); peak RSS: "
          "the whole process, interpreter and libraries included, before scikit-learn's "
          "matrix is built.")
    if args.plot:
        print(f"plot: {plots.scale(measured, Path(args.plot))}")
    if args.workers:
        workers = worker_memory(args.workers)
        print("\nWhole-worker memory (2 processes matching, "
              f"each after {UPDATES} upserts; PSS splits shared pages between the processes)\n")
        print(table(WORKER_HEADER, workers))


if __name__ == "__main__":
    main()
