"""Progress bars for the long runs a person watches (seeding, building the index, benchmarks).

Drawn by tqdm on standard error, and only when it is a terminal and the run has already taken
DELAY_SECONDS: logs, pipes, CI and short runs see nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
DELAY_SECONDS = 2.0


def progress(items: Iterable[T], description: str, total: int | None = None,
             unit: str = "profile") -> Iterator[T]:
    """Yield the items, showing a bar on a terminal once the run has taken a few seconds."""
    # disable=None: tqdm turns itself off when standard error is not a terminal.
    yield from tqdm(items, desc=description, total=total, unit=unit, disable=None,
                    delay=DELAY_SECONDS, leave=False, dynamic_ncols=True)
