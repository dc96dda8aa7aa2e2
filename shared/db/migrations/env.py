"""Alembic environment: the URL comes from the caller's config (or, for the plain `alembic`
command, from the settings), the schema from partnermatch.shared.db.models."""

from pathlib import Path

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import engine_from_config, make_url, pool

from partnermatch.shared.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Apply migrations on a live connection (SQLite uses batch mode for ALTERs)."""
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _migrate(connectable)
        return
    section = config.get_section(config.config_ini_section, {})
    if not section.get("sqlalchemy.url"):  # alembic.ini names none: the service's own database
        from partnermatch.config.settings import load_settings

        section["sqlalchemy.url"] = load_settings().DATABASE_URL
    url = make_url(section["sqlalchemy.url"])
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)  # SQLite makes no folders
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        _migrate(connection)


def _migrate(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        process_revision_directives=_new_revision,
    )
    with context.begin_transaction():
        context.run_migrations()


def _new_revision(migration_context, revision, directives) -> None:
    """Number a new revision after the head (0004 → 0005); write none when autogenerate finds
    that the models and the database agree."""
    asked = config.attributes.get("autogenerate") or getattr(config.cmd_opts, "autogenerate", False)
    if asked and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        config.print_stdout("No changes detected")
        return
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) == 1 and heads[0].isdigit():
        directives[0].rev_id = f"{int(heads[0]) + 1:04d}"


run_migrations()
