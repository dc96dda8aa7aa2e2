"""Texts as hashed term vectors, and their cosines against a needs text."""

import numpy as np
import pytest

from partnermatch.shared.matching.text import TextIndex

TEXTS = [
    "Care leavers in suitable accommodation: bottom quartile nationally",
    "Recycling recycling RECYCLING rates, food waste and fly-tipping",
    "",
    "the and of",  # stop words only
    "Ofsted (2023): experiences of care leavers judged outstanding; Café and naïve résumé",
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_query_is_hashed_exactly_as_the_stored_texts_are(text):
    index = TextIndex()
    terms, weights = index.query(text)
    vector = index.vectors([text])
    assert terms.tolist() == vector.indices.tolist()
    assert weights == pytest.approx(vector.data, abs=1e-6)


def test_cosines_are_the_dot_products_of_normalised_vectors():
    index = TextIndex()
    index.add(TEXTS)
    needs = "care leavers need suitable accommodation and recycling"
    vectors = index.vectors([needs, *TEXTS])
    expected = (vectors[1:] @ vectors[0].T).toarray().ravel()
    got = index.cosines(index.query(needs), np.arange(len(TEXTS)))
    assert got == pytest.approx(expected, abs=1e-6)
    assert got[0] > got[1] > 0 and got[2] == got[3] == 0


def test_keeping_some_slots_renumbers_their_rows():
    index = TextIndex()
    index.add(TEXTS)
    query = index.query("recycling and care leavers")
    before = index.cosines(query, np.array([0, 1, 4]))
    index.keep(np.array([0, 1, 4]))
    assert index.cosines(query, np.arange(3)) == pytest.approx(before)
