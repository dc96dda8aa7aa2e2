"""Alembic migrations, driven from code (the CLI and the tests) or by the plain `alembic` command.

Revision ids are numbered in turn (0001, 0002, ...) and files named `<id>_<message>.py`, so the
history reads in order; autogenerate writes no file when the models and the database agree.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"


def alembic_config(database_url: str, version_path: str | Path | None = None) -> Config:
    """Return an Alembic config for the project's migrations and a database.

    `version_path` adds a folder for new revision files (the tests write into a temporary one).
    """
    config = Config(stdout=sys.stdout)  # the stdout of the moment, so click's runner sees it
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("path_separator", "os")
    config.set_main_option("revision_environment", "true")  # env.py numbers every new revision
    folders = [str(VERSIONS_DIR), *([str(version_path)] if version_path else [])]
    config.set_main_option("version_locations", os.pathsep.join(folders))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to a revision (the newest by default)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the database schema back to a revision (an id, or relative such as -1)."""
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> None:
    """Print the revision the database is at, marked (head) when it is the newest."""
    command.current(alembic_config(database_url))


def revision(database_url: str, message: str, autogenerate: bool = False,
             version_path: str | Path | None = None) -> Path | None:
    """Write a new revision, numbered after the head; None when autogenerate found no change."""
    config = alembic_config(database_url, version_path)
    config.attributes["autogenerate"] = autogenerate
    script = command.revision(config, message=message, autogenerate=autogenerate,
                              version_path=str(version_path) if version_path else None)
    return Path(script.path) if script else None
