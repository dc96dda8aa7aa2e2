"""Fixtures of the domain tests: an engine and sessions on the test's database."""

from __future__ import annotations

import pytest

from partnermatch.shared.db.engine import make_engine, make_sessionmaker


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)
