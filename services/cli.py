"""The `partnermatch` command: run the whole service, or each part, and look after the database."""

from __future__ import annotations

import os
import sys

import click

from config.settings import load_settings


@click.group()
def main() -> None:
    """partnermatch: find partner councils and suppliers for UK councils."""


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (Alembic)."""
    from shared.migrate import upgrade

    settings = load_settings()
    upgrade(settings.DATABASE_URL)
    click.echo("database is up to date")


@main.command()
@click.option("--data-dir", default=None, help="Folder with the public reference data.")
@click.option("--demo", is_flag=True, help="Also create demo profiles from public data.")
def seed(data_dir: str | None, demo: bool) -> None:
    """Load or refresh the council register and public indicators (idempotent)."""
    from shared.db import make_engine, make_sessionmaker, transaction
    from shared.register import load_register

    settings = load_settings()
    data_dir = data_dir or settings.REFERENCE_DATA_DIR
    if not data_dir:
        raise click.UsageError("Set REFERENCE_DATA_DIR or pass --data-dir.")
    sessions = make_sessionmaker(make_engine(settings.DATABASE_URL))
    with transaction(sessions) as session:
        count = load_register(session, data_dir)
    click.echo(f"register: {count} councils loaded from {data_dir}")
    if demo:
        from shared.demo import seed_demo

        with transaction(sessions) as session:
            made = seed_demo(session)
        click.echo(f"demo: {made} profiles created or refreshed")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def api(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn (production)."""
    settings = load_settings()
    _require_redis(settings.REDIS_URL)
    os.execvp(sys.executable, [  # noqa: S606 - replaces this process with gunicorn
        sys.executable, "-m", "gunicorn", "--config", "python:config.gunicorn",
        "--bind", f"{host}:{port}", "--workers", str(workers), "services.api.wsgi:app",
    ])


def _require_redis(url: str) -> None:
    if not url:
        raise click.UsageError("REDIS_URL is required (only `partnermatch run` starts its own).")
