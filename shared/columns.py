"""Column stores for the matching index: numpy arrays that grow by doubling and compact."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

_START = 64


class Columns:
    """Named numpy columns of equal length with amortised O(1) appends of whole batches.

    Each column is declared with a dtype and a trailing shape (``()`` for one value per row).
    ``view(name)`` returns the filled part without copying.
    """

    def __init__(self, spec: Mapping[str, tuple[type, tuple[int, ...]]]) -> None:
        self._spec = dict(spec)
        self._data = {name: np.zeros((_START, *shape), dtype=dtype)
                      for name, (dtype, shape) in self._spec.items()}
        self.size = 0
        self._views: dict[str, np.ndarray] = {}

    def append(self, batch: Mapping[str, np.ndarray]) -> int:
        """Append rows given as one array per column; return the first new row's number."""
        count = len(next(iter(batch.values())))
        first = self.size
        self._reserve(first + count)
        for name, values in batch.items():
            self._data[name][first: first + count] = values
        self.size += count
        self._views = {}
        return first

    def view(self, name: str) -> np.ndarray:
        """Return the filled rows of a column (a view, remembered until the next change)."""
        found = self._views.get(name)
        if found is None:
            found = self._views[name] = self._data[name][: self.size]
        return found

    def keep(self, rows: np.ndarray) -> None:
        """Keep only these rows, in this order (used to compact away deleted rows)."""
        for name in self._data:
            kept = self._data[name][rows]
            self._data[name] = np.zeros((max(_START, 2 * len(rows)), *kept.shape[1:]),
                                        dtype=kept.dtype)
            self._data[name][: len(rows)] = kept
        self.size = len(rows)
        self._views = {}

    def nbytes(self) -> int:
        return sum(array.nbytes for array in self._data.values())

    def _reserve(self, size: int) -> None:
        capacity = len(next(iter(self._data.values())))
        if size <= capacity:
            return
        while capacity < size:
            capacity *= 2
        for name, old in self._data.items():
            new = np.zeros((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self.size] = old[: self.size]
            self._data[name] = new
