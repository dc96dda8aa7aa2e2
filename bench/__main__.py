"""Run the model's benchmarks: the quality report, then the scale benchmark.

Arguments go to ``bench.scale`` (e.g. ``--sizes 400,10000``). The service's own performance table
(intake, end to end, worker throughput) is ``python -m bench.perf``, run on its own: it starts
PostgreSQL-backed stacks and takes about ten minutes.
"""

from __future__ import annotations

import sys

from bench import quality, scale


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    quality.main([])
    print()
    scale.main(argv)


if __name__ == "__main__":
    main()
