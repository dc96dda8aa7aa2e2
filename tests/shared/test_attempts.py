"""Task starts are counted in the database, each count committed before the work begins."""

from __future__ import annotations

import pytest

from shared.attempts import attempts_so_far, bump_attempt
from shared.db import make_engine, make_sessionmaker


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_each_start_of_a_task_is_counted_from_one(sessions):
    assert [bump_attempt(sessions, "match:a") for _ in range(3)] == [1, 2, 3]
    assert bump_attempt(sessions, "match:b") == 1
    with sessions() as session:
        assert attempts_so_far(session, "match:a") == 3
