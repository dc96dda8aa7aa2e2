"""Column stores for the matching index: numpy arrays that grow by doubling and compact.

Columns can be written to a folder as ``.npy`` files and opened again copy-on-write
(``mmap_mode="c"``): every process that opens the same files shares their pages, and a process that
changes a row (or appends into the spare rows saved after the last one) gets a private copy of only
the pages it wrote. ``FrozenList`` and ``FrozenDict`` do the same for the index's per-profile
Python values: a read-only array from the snapshot, and a small private overlay of changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

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

    def save(self, folder: Path, prefix: str, spare: int) -> int:
        """Write each column to ``prefix.NAME.npy`` with ``spare`` empty rows; return the size.

        The spare rows are sparse on disk and shared until written, so a process that opens the
        files can append that many rows before any column is copied.
        """
        for name, array in self._data.items():
            out = np.lib.format.open_memmap(
                folder / f"{prefix}.{name}.npy", mode="w+", dtype=array.dtype,
                shape=(self.size + max(_START, spare), *array.shape[1:]))
            out[: self.size] = array[: self.size]
            out.flush()
            del out
        return self.size

    @classmethod
    def open(cls, spec: Mapping[str, tuple[type, tuple[int, ...]]], folder: Path, prefix: str,
             size: int) -> Columns:
        """Open columns saved by ``save``, mapped copy-on-write (shared until written)."""
        columns = cls.__new__(cls)
        columns._spec = dict(spec)
        columns._data = {name: mapped(folder / f"{prefix}.{name}.npy") for name in spec}
        columns.size = size
        columns._views = {}
        return columns

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


def mapped(path: Path) -> np.ndarray:
    """Open a ``.npy`` file copy-on-write: its pages are shared until this process writes one."""
    return np.load(path, mmap_mode="c").view(np.ndarray)  # the view keeps the mapping alive


_GONE = object()


class FrozenList:
    """A list over a read-only array of encoded values, with private changes and appends.

    Supports what the index does with its per-slot lists: read, overwrite and append (``+=``).
    """

    def __init__(self, base: np.ndarray, decode: Callable[[Any], Any]) -> None:
        self._base = base
        self._decode = decode
        self._changed: dict[int, Any] = {}
        self._tail: list[Any] = []

    def __len__(self) -> int:
        return len(self._base) + len(self._tail)

    def __getitem__(self, index: int) -> Any:
        if self._changed and index in self._changed:
            return self._changed[index]
        if index < len(self._base):
            return self._decode(self._base[index])
        return self._tail[index - len(self._base)]

    def __setitem__(self, index: int, value: Any) -> None:
        if index < len(self._base):
            self._changed[index] = value
        else:
            self._tail[index - len(self._base)] = value

    def __iadd__(self, values: Iterable[Any]) -> FrozenList:
        self._tail.extend(values)
        return self


class FrozenDict:
    """A mapping over sorted read-only key and value arrays, with private changes.

    Supports what the index does with its dicts: ``get``, ``in``, set, ``pop``, ``len`` and
    ``items``. Keys are encoded with ``encode`` to compare with the sorted array.
    """

    def __init__(self, keys: np.ndarray, values: np.ndarray, *,
                 encode: Callable[[Any], Any], decode_key: Callable[[Any], Any],
                 decode: Callable[[Any], Any]) -> None:
        self._keys, self._values = keys, values
        self._encode, self._decode_key, self._decode = encode, decode_key, decode
        self._changed: dict[Any, Any] = {}
        self._size = len(keys)

    def _base_get(self, key: Any) -> Any:
        encoded = self._encode(key)
        if encoded is None:
            return _GONE
        position = int(np.searchsorted(self._keys, encoded))
        if position < len(self._keys) and self._keys[position] == encoded:
            return self._decode(self._values[position])
        return _GONE

    def get(self, key: Any, default: Any = None) -> Any:
        found = self._changed.get(key, _GONE) if self._changed else _GONE
        if found is _GONE and key not in self._changed:
            found = self._base_get(key)
        return default if found is _GONE else found

    def __contains__(self, key: object) -> bool:
        return self.get(key, _GONE) is not _GONE

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self:
            self._size += 1
        self._changed[key] = value

    def pop(self, key: Any, default: Any = None) -> Any:
        found = self.get(key, _GONE)
        if found is _GONE:
            return default
        self._changed[key] = _GONE
        self._size -= 1
        return found

    def __len__(self) -> int:
        return self._size

    def items(self) -> Iterator[tuple[Any, Any]]:
        for encoded, value in zip(self._keys.tolist(), self._values.tolist(), strict=True):
            key = self._decode_key(encoded)
            if key not in self._changed:
                yield key, self._decode(value)
        yield from ((k, v) for k, v in self._changed.items() if v is not _GONE)
