"""Shared fixtures: real databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from partnermatch.config.settings import SHIPPED_REFERENCE_DIR
from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.db.migrate import upgrade
from partnermatch.shared.db.models import Base, Council, CouncilCode
from partnermatch.shared.reference.register import load_register

REFERENCE_DATA_DIR = os.environ.get("REFERENCE_DATA_DIR") or str(SHIPPED_REFERENCE_DIR)
REFERENCE_TABLES = {Council.__tablename__, CouncilCode.__tablename__, "alembic_version"}


@pytest.fixture(scope="session")
def reference_dir() -> str:
    if not Path(REFERENCE_DATA_DIR, "uk_local_authority_names_and_codes").is_dir():
        pytest.fail(f"reference data not found at {REFERENCE_DATA_DIR}; set REFERENCE_DATA_DIR")
    return REFERENCE_DATA_DIR


def _postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL")


def _throwaway_postgresql() -> Iterator[str]:
    """Create an empty PostgreSQL database, hand over its URL, and drop it afterwards."""
    base = _postgres_url()
    if not base:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (.ci/run always sets it)")
    name = f"pm_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test run (seeded_database migrates it)."""
    yield from _throwaway_postgresql()


@pytest.fixture
def fresh_postgresql() -> Iterator[str]:
    """An empty PostgreSQL database of the test's own, for tests that migrate it themselves."""
    yield from _throwaway_postgresql()


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'partnermatch.db'}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def seeded_database(request, reference_dir) -> Iterator[str]:
    """A migrated database with the council register loaded, once per backend."""
    url = request.getfixturevalue(f"{request.param}_database")
    upgrade(url)
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        load_register(session, reference_dir)
    engine.dispose()
    yield url


@pytest.fixture
def database_url(seeded_database) -> Iterator[str]:
    """The seeded database, emptied of everything but the register after each test."""
    yield seeded_database
    engine = make_engine(seeded_database)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in REFERENCE_TABLES:
                connection.execute(table.delete())
    engine.dispose()


@pytest.fixture
def app_config(database_url, tmp_path) -> dict[str, object]:
    return {
        "PARTNERMATCH_ENV": "test",
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "test-secret-key",
        "REFERENCE_DATA_DIR": REFERENCE_DATA_DIR,
    }


@pytest.fixture
def app(app_config):
    from partnermatch.services.api.app import create_app

    app = create_app(app_config)
    yield app
    app.extensions["partnermatch"].engine.dispose()


@pytest.fixture
def make_app(app_config):
    """Build apps with some settings changed; dispose of their engines afterwards."""
    from partnermatch.services.api.app import create_app

    made = []

    def build(**settings):
        made.append(create_app({**app_config, **settings}))
        return made[-1]

    yield build
    for built in made:
        built.extensions["partnermatch"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()
