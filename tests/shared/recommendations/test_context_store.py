"""The fitted context model is saved with its version and checksum, and loaded, never refitted."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest

from partnermatch.shared.matching.context import ContextModel
from partnermatch.shared.recommendations import context_store
from partnermatch.shared.recommendations.context_store import load_or_fit, model_path
from tests.shared.matching.test_context import spread_of_places


def _no_fit(*args, **kwargs):
    raise AssertionError("the saved model should have been loaded, not fitted again")


def test_a_saved_model_is_loaded_by_the_next_process_and_answers_alike(tmp_path, monkeypatch):
    places = spread_of_places()
    fitted = load_or_fit(places, tmp_path)
    path = model_path(tmp_path, places)
    assert path.is_file() and path.with_suffix(".sha256").is_file()
    monkeypatch.setattr(ContextModel, "fit", _no_fit)
    loaded = load_or_fit(places, tmp_path)
    rows = np.arange(len(places))
    for area in (None, "childrens_services", "waste"):
        assert loaded.similarities_for_rows(3, rows, area) == pytest.approx(
            fitted.similarities_for_rows(3, rows, area))
    assert loaded.pipeline("childrens_services").transform(
        ContextModel.columns_of(places)) == pytest.approx(fitted.embedding("childrens_services"))


def test_a_damaged_file_is_not_loaded_but_fitted_again(tmp_path, caplog):
    places = spread_of_places()
    load_or_fit(places, tmp_path)
    path = model_path(tmp_path, places)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger=context_store.__name__):
        model = load_or_fit(places, tmp_path)
    assert "does not match its checksum" in caplog.text
    assert 0 < model.similarity("E001", "E002") < 1
    caplog.clear()
    load_or_fit(places, tmp_path)  # written again, sound
    assert "checksum" not in caplog.text


def test_a_changed_register_gets_its_own_fit(tmp_path):
    places = spread_of_places()
    load_or_fit(places, tmp_path)
    changed = [replace(places[0], imd_score=70.0), *places[1:]]
    assert model_path(tmp_path, changed) != model_path(tmp_path, places)
    model = load_or_fit(changed, tmp_path)
    assert model.place("E000").imd_score == 70.0
    assert len(list(tmp_path.glob("context-*.joblib"))) == 2
