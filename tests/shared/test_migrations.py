"""The Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from shared.migrate import upgrade
from shared.models import Base


def _differences(url: str) -> list:
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return compare_metadata(context, Base.metadata)


def test_sqlite_schema_matches_the_models(tmp_path):
    assert _differences(f"sqlite:///{tmp_path / 'm.db'}") == []


def test_postgresql_schema_matches_the_models(postgresql_database):
    assert _differences(postgresql_database) == []
