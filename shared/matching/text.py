"""Texts as hashed term vectors, stored row per slot, for cosines against a needs text.

Term frequencies of single words (stop words dropped) are sublinear (1 + log count) and
l2-normalised; a hashing vectoriser needs no vocabulary, so adding a profile never refits anything.
Word pairs were dropped: they doubled the memory and the cost of every cosine for a signal that
only nudges the ranking. Rows live in two flat arrays (terms and weights) with each slot's start
and end, so a batch appends in one step and the cosines of a few thousand slots are a gather and a
``bincount``. Not thread-safe: each query is written into one shared lookup array.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from partnermatch.shared.matching.columns import Columns

HASHED_TERMS = 2**20
_QUERIES_KEPT = 512


_ROW_COLUMNS = {"start": (np.int64, ()), "end": (np.int64, ())}
_TERM_COLUMNS = {"term": (np.int32, ()), "weight": (np.float32, ())}


class TextIndex:
    """The strengths texts of the indexed profiles, one row per slot."""

    def __init__(self) -> None:
        self._vectoriser = HashingVectorizer(
            n_features=HASHED_TERMS, alternate_sign=False, stop_words="english",
            ngram_range=(1, 1), norm=None, dtype=np.float32)
        self._rows = Columns(_ROW_COLUMNS)
        self._terms = Columns(_TERM_COLUMNS)
        self._lookup = np.zeros(HASHED_TERMS, dtype=np.float32)  # the query, set per call
        self._analyse = self._vectoriser.build_analyzer()
        self._queries: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # recent texts' vectors

    def vectors(self, texts: Sequence[str]):
        """Return the texts' sublinear, l2-normalised hashed term vectors (a CSR matrix)."""
        matrix = self._vectoriser.transform([text or "" for text in texts])
        matrix.sort_indices()
        matrix.data = 1.0 + np.log(matrix.data)
        owners = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        norms = np.sqrt(np.bincount(owners, weights=matrix.data**2, minlength=matrix.shape[0]))
        matrix.data /= norms[owners]
        return matrix

    def query(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Return a text's terms (sorted) and weights, as ``vectors`` would, without its overhead.

        The index of a word is its signed 32-bit murmurhash's absolute value modulo the number of
        hashed terms: what ``HashingVectorizer`` computes. The last few hundred texts are remembered
        (a profile is matched again after each change): the arrays returned must not be written.
        """
        found = self._queries.get(text)
        if found is None:
            if len(self._queries) >= _QUERIES_KEPT:
                self._queries.clear()
            found = self._queries[text] = self._query(text)
            for array in found:
                array.flags.writeable = False
        return found

    def _query(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(abs(murmurhash3_32(word, seed=0)) % HASHED_TERMS
                         for word in self._analyse(text or ""))
        terms = np.array(sorted(counts), dtype=np.int32)
        weights = 1.0 + np.log(np.array([counts[t] for t in terms.tolist()], dtype=np.float32))
        norm = np.sqrt((weights**2).sum())
        return terms, (weights / norm if norm else weights).astype(np.float32)

    def add(self, texts: Sequence[str]) -> None:
        """Append one row per text, for the next slots in order."""
        matrix = self.vectors(texts)
        offset = self._terms.size
        if matrix.nnz:
            self._terms.append({"term": matrix.indices, "weight": matrix.data})
        self._rows.append({"start": offset + matrix.indptr[:-1], "end": offset + matrix.indptr[1:]})

    def cosines(self, query: tuple[np.ndarray, np.ndarray], slots: np.ndarray) -> np.ndarray:
        """Return the cosine between the query and each slot's text."""
        terms, weights = query
        starts = self._rows.view("start").take(slots)
        lengths = self._rows.view("end").take(slots) - starts
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        if total == 0 or terms.size == 0:
            return np.zeros(len(slots))
        offsets = ends - lengths
        positions = np.repeat(starts - offsets, lengths)
        positions += np.arange(total)
        lookup = self._lookup
        lookup[terms] = weights
        try:
            products = self._terms.view("weight").take(positions)
            products *= lookup.take(self._terms.view("term").take(positions))
        finally:
            lookup[terms] = 0.0
        # each slot's products are contiguous: sum them segment by segment (empty texts have no
        # segment of their own, so they are left at zero)
        filled = lengths > 0
        if filled.all():
            return np.add.reduceat(products, offsets).astype(np.float64)
        sums = np.zeros(len(slots))
        sums[filled] = np.add.reduceat(products, offsets[filled])
        return sums

    def keep(self, slots: np.ndarray) -> None:
        """Keep only these slots' rows, renumbered in this order."""
        starts = self._rows.view("start")[slots]
        lengths = self._rows.view("end")[slots] - starts
        positions = np.arange(int(lengths.sum())) + np.repeat(
            starts - (np.cumsum(lengths) - lengths), lengths)
        self._terms.keep(positions)
        ends = np.cumsum(lengths)
        self._rows.keep(np.arange(len(slots)))
        self._rows.view("start")[:] = ends - lengths
        self._rows.view("end")[:] = ends

    def nbytes(self) -> int:
        return self._rows.nbytes() + self._terms.nbytes()

    def save(self, folder: Path, spare: int) -> dict[str, int]:
        """Write the rows and terms with room for ``spare`` more texts; return their sizes."""
        terms_per_row = self._terms.size // max(1, self._rows.size) + 1
        return {"text.rows": self._rows.save(folder, "text.rows", spare),
                "text.terms": self._terms.save(folder, "text.terms", spare * terms_per_row)}

    @classmethod
    def open(cls, folder: Path, sizes: dict[str, int]) -> TextIndex:
        """Open rows and terms saved by ``save``, shared until written."""
        text = cls()
        text._rows = Columns.open(_ROW_COLUMNS, folder, "text.rows", sizes["text.rows"])
        text._terms = Columns.open(_TERM_COLUMNS, folder, "text.terms", sizes["text.terms"])
        return text
