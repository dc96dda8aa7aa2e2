"""The Alembic migrations create exactly the schema the models describe, and the commands
developers use on them (revision --autogenerate, current, downgrade) work."""

from __future__ import annotations

import os
import subprocess
import sys
from operator import itemgetter
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import JSON, column, create_engine, inspect, select, table, text

from partnermatch.services.cli import main
from partnermatch.shared.db.migrate import VERSIONS_DIR, alembic_config, downgrade, upgrade
from partnermatch.shared.db.models import Base
from tests import PROJECT_ROOT


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


# --- the commands a developer uses: partnermatch db ..., and the plain alembic command ---------

def _cli(url: str, tmp_path, *args: str):
    """Run `partnermatch ARGS` on a database, as a developer would."""
    env = {"DATABASE_URL": url, "VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": "k",
           "PARTNERMATCH_ENV": "test"}
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    names = {column["name"] for column in inspect(engine).get_columns(table)}
    engine.dispose()
    return names


def test_db_current_shows_the_head(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _cli(url, tmp_path, "db", "upgrade")
    assert _cli(url, tmp_path, "db", "current").strip() == f"{_head()} (head)"


def test_db_downgrade_to_the_start_then_upgrade_rebuilds_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _cli(url, tmp_path, "db", "upgrade")
    _cli(url, tmp_path, "db", "downgrade", "-1")
    engine = create_engine(url)
    with engine.connect() as connection:  # one revision behind: the schema lacks what it added
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) != []
    engine.dispose()
    assert _cli(url, tmp_path, "db", "current").strip() == f"{int(_head()) - 1:04d}"
    _cli(url, tmp_path, "db", "downgrade", "base")
    assert _cli(url, tmp_path, "db", "current").strip() == ""
    _cli(url, tmp_path, "db", "upgrade")
    assert _cli(url, tmp_path, "db", "current").strip() == f"{_head()} (head)"
    engine = create_engine(url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_autogenerate_on_an_up_to_date_database_writes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _cli(url, tmp_path, "db", "upgrade")
    before = sorted(VERSIONS_DIR.iterdir())
    versions = tmp_path / "versions"
    versions.mkdir()
    output = _cli(url, tmp_path, "db", "revision", "--autogenerate", "-m", "nothing new",
                  "--version-path", str(versions))
    assert "No changes detected" in output
    assert sorted(VERSIONS_DIR.iterdir()) == before and list(versions.iterdir()) == []


def test_autogenerate_writes_the_next_numbered_revision_that_closes_the_gap(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _cli(url, tmp_path, "db", "upgrade")
    engine = create_engine(url)
    with engine.begin() as connection:  # the database lacks a column the models have
        connection.execute(text("ALTER TABLE match_runs DROP COLUMN refreshed_by"))
    engine.dispose()
    versions = tmp_path / "versions"
    versions.mkdir()
    output = _cli(url, tmp_path, "db", "revision", "--autogenerate", "-m", "Add refreshed_by",
                  "--version-path", str(versions))
    following = f"{int(_head()) + 1:04d}"
    [written] = versions.iterdir()
    assert written.name == f"{following}_add_refreshed_by.py" and str(written) in output
    source = written.read_text()
    assert f"down_revision = '{_head()}'" in source or f'down_revision = "{_head()}"' in source
    assert "add_column(sa.Column('refreshed_by'" in source.replace('"', "'")
    command.upgrade(alembic_config(url, versions), "heads")
    assert "refreshed_by" in _columns(url, "match_runs")


def test_the_plain_alembic_command_works_from_the_checkout(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    env = {**os.environ, "DATABASE_URL": url, "PARTNERMATCH_ENV": "test", "SECRET_KEY": "k"}
    alembic = str(Path(sys.executable).with_name("alembic"))

    def run(*args: str) -> str:
        done = subprocess.run([alembic, *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=True)
        return done.stdout

    run("upgrade", "head")
    assert run("current").strip() == f"{_head()} (head)"
    assert "No changes detected" in run("revision", "--autogenerate", "-m", "nothing")
    run("downgrade", "-1")
    assert run("current").strip() == f"{int(_head()) - 1:04d}"


def test_db_upgrade_in_an_empty_folder_makes_the_default_sqlite_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("VAR_DIR", raising=False)
    result = CliRunner().invoke(main, ["db", "upgrade"],
                                env={"SECRET_KEY": "k", "PARTNERMATCH_ENV": "test"})
    assert result.output == "database is up to date\n"
    assert (tmp_path / "var" / "partnermatch.db").is_file()


def _profiles_after_0006(url: str) -> dict[str, tuple]:
    """Store profiles at 0005 (one confirmed address), upgrade, and read what 0006 made of them."""
    upgrade(url, "0005")
    engine = create_engine(url)
    now = "2026-12-01 12:00:00+00:00"
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO councils (gss_code, code, name, official_name, council_type, nation, "
            "region, place, ofsted, outcomes, refreshed_at) VALUES ('E08000035', 'LDS', 'Leeds',"
            " 'Leeds City Council', 'MD', 'England', 'Yorkshire', '{}', '[]', '{}', :now)"),
            {"now": now})
        connection.execute(text("INSERT INTO contact_addresses (email, confirmed_at, created_at)"
                                " VALUES ('sam@leeds.gov.uk', :now, :now)"), {"now": now})
        for id_, kind, gss, address, demo in (
                ("a", "council", "E08000035", "sam@leeds.gov.uk", False),
                ("b", "council", "E08000035", "kim@leeds.gov.uk", False),
                ("c", "supplier", None, "pat@example.com", False),
                ("d", "council", "E08000035", "demo@example.invalid", True)):
            connection.execute(text(
                "INSERT INTO profiles (id, kind, gss_code, version, fields, contact_email, "
                "token_hash, approved, demo, created_at, updated_at) VALUES (:id, :kind, :gss, 1,"
                " '{}', :address, 'x', TRUE, :demo, :now, :now)"),
                {"id": id_, "kind": kind, "gss": gss, "address": address, "demo": demo,
                 "now": now})
    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT id, contact_confirmed, address_status FROM profiles")).all()
    engine.dispose()
    return {id_: (bool(confirmed), status) for id_, confirmed, status in rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0006_takes_confirmation_from_the_addresses_and_leaves_councils_to_be_checked(
        request, tmp_path, backend):
    url = (f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite"
           else request.getfixturevalue("fresh_postgresql"))
    assert _profiles_after_0006(url) == {
        "a": (True, "unverified"), "b": (False, "unverified"),
        "c": (False, None), "d": (False, None)}


def _recommendation_rows(count_by_area: dict[str, int]) -> list[dict]:
    """Recommendations of run "r" as 0006 stored them: a row per partner of each need."""
    return [
        {"match_run_id": "r", "service_area": area, "need_rating": 1 + number, "rank": rank,
         "partner_profile_id": f"{area}-{rank}", "partner_kind": "council",
         "partner_name": f"Partner {rank}", "partner_gss_code": None if rank % 2 else "E08000035",
         "score": 1 / (rank + 0.3), "strength_rating": 5, "reasons": [f"Reason {rank}", "Near"]}
        for number, (area, count) in enumerate(count_by_area.items())
        for rank in range(1, count + 1)
    ]


_RECOMMENDATIONS = table(
    "recommendations", *(column(name) for name in (
        "match_run_id", "service_area", "need_rating", "rank", "partner_profile_id",
        "partner_kind", "partner_name", "partner_gss_code", "score", "strength_rating")),
    column("reasons", JSON()))
_NEED_RECOMMENDATIONS = table("recommendations", column("match_run_id"),
                              column("service_area"), column("rating"),
                              column("partners", JSON()), column("top_partner_ids", JSON()))


def _store_a_run_at_0006(url: str, recommendations: list[dict]) -> None:
    upgrade(url, "0006")
    engine = create_engine(url)
    now = "2026-12-01 12:00:00+00:00"
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO profiles (id, kind, version, fields, contact_email, token_hash, approved,"
            " demo, contact_confirmed, created_at, updated_at) VALUES ('p', 'supplier', 1, '{}', "
            "'pat@example.com', 'x', TRUE, FALSE, FALSE, :now, :now)"), {"now": now})
        connection.execute(text(
            "INSERT INTO match_runs (id, profile_id, profile_version, status, model_version, "
            "generated_at) VALUES ('r', 'p', 1, 'ready', 'm', :now)"), {"now": now})
        connection.execute(_RECOMMENDATIONS.insert(), recommendations)
    engine.dispose()


def _read(url: str, query) -> list[dict]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    engine.dispose()
    return rows


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0007_moves_each_need_of_a_run_into_one_row_and_back(request, tmp_path, backend):
    url = (f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite"
           else request.getfixturevalue("fresh_postgresql"))
    before = _recommendation_rows({"waste": 7, "housing": 2})
    _store_a_run_at_0006(url, before)
    upgrade(url, "0007")
    needs = _read(url, select(_NEED_RECOMMENDATIONS)
                  .order_by(_NEED_RECOMMENDATIONS.c.service_area))
    assert [(n["match_run_id"], n["service_area"], n["rating"]) for n in needs] == [
        ("r", "housing", 2), ("r", "waste", 1)]
    housing, waste = needs
    assert housing["top_partner_ids"] == ["housing-1", "housing-2"]
    assert waste["top_partner_ids"] == [f"waste-{rank}" for rank in range(1, 6)]
    assert [p["profile_id"] for p in waste["partners"]] == [f"waste-{r}" for r in range(1, 8)]
    assert waste["partners"][1] == {
        "profile_id": "waste-2", "name": "Partner 2", "kind": "council",
        "gss_code": "E08000035", "score": 1 / 2.3, "strength_rating": 5,
        "reasons": ["Reason 2", "Near"]}
    _add(url, _NEED_RECOMMENDATIONS, {  # a need with no partners left: none to move back
        "match_run_id": "r", "service_area": "culture", "rating": 2, "partners": [],
        "top_partner_ids": []})
    downgrade(url, "0006")
    after = _read(url, select(_RECOMMENDATIONS))
    key = itemgetter("service_area", "rank")
    assert sorted(after, key=key) == sorted(before, key=key)
    _add(url, _RECOMMENDATIONS, before[0])
    assert set(_tables(url)) >= {"recommendations", "match_runs"}
    assert not {"recommendations_by_partner", "recommendations_by_need"} & set(_tables(url))


def _add(url: str, table_, row: dict) -> None:
    """Add a row without an id: it raises unless the table's id sequence survived the renames."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(table_.insert(), row)
    engine.dispose()


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    names = inspect(engine).get_table_names()
    engine.dispose()
    return names
