"""Progress bars: drawn on a terminal once a run has taken a few seconds, never elsewhere."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from partnermatch.shared import progress as progress_module
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.profiles.demo import seed_demo
from partnermatch.shared.progress import progress
from partnermatch.shared.recommendations.live_index import CandidateIndex
from partnermatch.shared.reference.register import load_register


class Terminal(io.StringIO):
    """Standard error as a terminal: what tqdm draws lands here."""

    def isatty(self) -> bool:
        return True


@contextmanager
def on_terminal() -> Iterator[Terminal]:
    """Make standard error a terminal for the block (inside the test: pytest's capture resets
    sys.stderr between a fixture's setup and the test)."""
    screen, before = Terminal(), sys.stderr
    sys.stderr = screen
    try:
        yield screen
    finally:
        sys.stderr = before


@pytest.fixture
def no_delay(monkeypatch) -> None:
    """As if every run had already taken longer than the delay."""
    monkeypatch.setattr(progress_module, "DELAY_SECONDS", 0.0)


def test_a_long_run_on_a_terminal_shows_how_far_it_got(no_delay):
    with on_terminal() as terminal:
        assert list(progress(range(5), "councils", 5, unit="council")) == [0, 1, 2, 3, 4]
    assert "councils:   0%|" in terminal.getvalue() and "0/5 [" in terminal.getvalue()


def test_nothing_is_drawn_when_standard_error_is_not_a_terminal(no_delay):
    log, before = io.StringIO(), sys.stderr
    sys.stderr = log
    try:
        assert sum(progress(range(5), "councils", 5)) == 10
    finally:
        sys.stderr = before
    assert log.getvalue() == ""


def test_a_short_run_draws_nothing_even_on_a_terminal():
    with on_terminal() as terminal:
        assert sum(progress(range(5), "councils", 5)) == 10
    assert terminal.getvalue() == ""


def test_seeding_and_building_the_index_show_their_progress(no_delay, sessions, reference_dir):
    with on_terminal() as terminal:
        with transaction(sessions) as session:
            councils = load_register(session, reference_dir)
            seed_demo(session)
        with sessions() as session:
            profiles = len(CandidateIndex(session).index)
    drawn = terminal.getvalue()
    assert f"councils:   0%|          | 0/{councils} [" in drawn
    assert "demo profiles:   0%|" in drawn
    assert f"reading profiles:   0%|          | 0/{profiles} [" in drawn
    assert f"indexing:   0%|          | 0/{profiles} [" in drawn
