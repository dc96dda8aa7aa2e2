"""Benchmarks and the quality evaluation: they print figures, they never assert them.

``python -m bench`` runs the quality report and the scale benchmark; each also runs alone
(``python -m bench.quality``, ``python -m bench.scale --sizes 400,10000``). ``python -m
bench.weights`` repeats the search that chose the context weights in ``shared/matching/context.py``.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout the benchmarks run from
