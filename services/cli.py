"""The `partnermatch` command: run the whole service, or each part, and look after the database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import click

from partnermatch.config.settings import SettingsError, load_settings


class _Commands(click.Group):
    """The command group: a setting that cannot be used stops any command with one line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingsError as error:
            raise click.ClickException(f"invalid setting {error}") from None


@click.group(cls=_Commands)
@click.version_option(package_name="partnermatch", prog_name="partnermatch",
                      message="%(prog)s %(version)s")
def main() -> None:
    """partnermatch: find partner councils and suppliers for UK councils."""


@main.group()
def db() -> None:
    """Database schema commands."""


# Relative revisions (-1, +1) are arguments, not options.
_RELATIVE = {"ignore_unknown_options": True}


@db.command("upgrade", context_settings=_RELATIVE)
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the database migrations (Alembic), up to REVISION (default: the newest)."""
    from partnermatch.shared.db.migrate import upgrade

    settings = load_settings()
    with _alembic_errors():
        upgrade(settings.DATABASE_URL, revision)
    click.echo("database is up to date" if revision == "head" else f"database at {revision}")


@db.command("downgrade", context_settings=_RELATIVE)
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the schema back to REVISION (an id such as 0003, or -1 for one step)."""
    from partnermatch.shared.db.migrate import downgrade

    with _alembic_errors():
        downgrade(load_settings().DATABASE_URL, revision)
    click.echo(f"database downgraded to {revision}")


@db.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    from partnermatch.shared.db.migrate import current

    current(load_settings().DATABASE_URL)


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option("--autogenerate", is_flag=True,
              help="Compare the models with the database and write the difference.")
@click.option("--version-path", type=click.Path(file_okay=False), default=None,
              help="Write the file here instead of shared/db/migrations/versions.")
def db_revision(message: str, autogenerate: bool, version_path: str | None) -> None:
    """Write a new migration, numbered after the newest (0005, 0006, ...)."""
    from partnermatch.shared.db.migrate import revision

    with _alembic_errors():
        written = revision(load_settings().DATABASE_URL, message, autogenerate, version_path)
    if written:
        click.echo(f"wrote {written}; read it before applying it")


@main.group()
def data() -> None:
    """The public reference data shipped with partnermatch."""


@data.command("refresh")
@click.option("--into", "into", default=None, type=click.Path(file_okay=False),
              help="Write the refreshed copy here (default: REFERENCE_DATA_DIR, or the shipped "
                   "copy in a source checkout).")
@click.option("--update", "updates", multiple=True, metavar="REPO[=REF]",
              help="Take REPO at REF (a branch, tag or commit; default HEAD) instead of its pinned "
                   "commit. Repeat for several; 'all' updates every source.")
@click.option("--dry-run", is_flag=True, help="Show what would change and write nothing.")
@click.option("--raw-url", default=None, envvar="REFERENCE_DATA_RAW_URL",
              help="Base URL of raw files (default https://raw.githubusercontent.com).")
@click.option("--api-url", default=None, envvar="REFERENCE_DATA_API_URL",
              help="Base URL of the GitHub API, for --update (default https://api.github.com).")
def data_refresh(into: str | None, updates: tuple[str, ...], dry_run: bool, raw_url: str | None,
                 api_url: str | None) -> None:
    """Download the originals again, re-derive, show what changed and replace the copy."""
    from pathlib import Path

    from partnermatch.shared.reference import sources

    current = Path(load_settings().REFERENCE_DATA_DIR)
    target = Path(into) if into else current
    upstream = sources.Upstream(raw_url or sources.RAW_BASE_URL, api_url or sources.API_BASE_URL)
    try:
        if not (dry_run or into):
            sources.check_writable(target)
        wanted = _parse_updates(updates, sources.read_manifest(current))
        plan = sources.plan_refresh(current, upstream, wanted)
        for repo, (old, new) in plan.commits.items():
            if old != new:
                click.echo(f"{repo}: {old[:7]} -> {new[:7]}")
        for change in plan.changes:
            click.echo(change.describe())
        if dry_run or not plan.any:
            click.echo("dry run: nothing written" if dry_run else "the copy is up to date")
            return
        if into and target.resolve() != current.resolve():
            _copy_folder(current, target)
        sources.write_plan(plan, target)
    except sources.RefreshError as error:
        raise click.ClickException(f"{error} (the reference data was left as it was)") from error
    click.echo(f"reference data written to {target}; run `partnermatch seed` to load it")


def _parse_updates(updates: tuple[str, ...], manifest: dict) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for item in updates:
        repo, _, ref = item.partition("=")
        repos = list(manifest["repositories"]) if repo == "all" else [repo]
        wanted.update({name: ref or "HEAD" for name in repos})
    return wanted


def _copy_folder(source, target) -> None:
    """Start a new data folder from the current copy, so files outside the manifest come along."""
    import shutil

    if not target.exists():
        shutil.copytree(source, target)


@main.command()
@click.option("--data-dir", default=None, help="Folder with the public reference data.")
@click.option("--demo", is_flag=True, help="Also create demo profiles from public data.")
def seed(data_dir: str | None, demo: bool) -> None:
    """Load or refresh the council register and public indicators (idempotent)."""
    from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
    from partnermatch.shared.recommendations.context_store import fit_context
    from partnermatch.shared.reference.register import load_register

    settings = load_settings()
    data_dir = data_dir or settings.REFERENCE_DATA_DIR
    if not data_dir:
        raise click.UsageError("Set REFERENCE_DATA_DIR or pass --data-dir.")
    sessions = make_sessionmaker(make_engine(settings.DATABASE_URL))
    with _reference_errors(), transaction(sessions) as session:
        count = load_register(session, data_dir)
    click.echo(f"register: {count} councils loaded from {data_dir}")
    with sessions() as session:
        folder = fit_context(session, settings.INDEX_DIR, settings.DATABASE_URL)
    click.echo(f"context model: fitted and saved in {folder}")
    if demo:
        from partnermatch.shared.profiles.demo import seed_demo

        with transaction(sessions) as session:
            made = seed_demo(session)
        click.echo(f"demo: {made} profiles created or refreshed")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def api(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn (production); /metrics counts every gunicorn worker."""
    from partnermatch.services.embedded import api_command

    settings = load_settings()
    _require_redis(settings.REDIS_URL)
    _multiprocess_metrics(settings, "api")
    command = api_command(host, port, workers)
    os.execvp(command[0], command)  # noqa: S606 - replaces this process with gunicorn


@main.command()
@click.option("--concurrency", default=2, show_default=True, type=int)
@click.option("--metrics-port", type=int, default=None,
              help="Serve the worker's Prometheus metrics on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="The address the metrics port listens on.")
def worker(concurrency: int, metrics_port: int | None, metrics_host: str) -> None:
    """Run a Celery worker on the matching, email and events queues."""
    from partnermatch.services.embedded import worker_command

    settings = load_settings()
    _require_redis(settings.REDIS_URL)
    if metrics_port:
        _multiprocess_metrics(settings, "worker")
    command = worker_command(concurrency, metrics_port=metrics_port, metrics_host=metrics_host)
    os.execvp(command[0], command)  # noqa: S606 - replaces this process with the worker


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5555, show_default=True, type=int)
def flower(host: str, port: int) -> None:
    """Run Flower (Celery diagnostics) at /flower/, behind the login in FLOWER_BASIC_AUTH."""
    from partnermatch.services.embedded import flower_command

    if ":" not in os.environ.get("FLOWER_BASIC_AUTH", ""):
        raise click.UsageError("set FLOWER_BASIC_AUTH to user:password: Flower can stop workers, "
                               "so it never runs without a login")
    _require_redis(load_settings().REDIS_URL)
    command = flower_command(host, port)
    os.execvp(command[0], command)  # noqa: S606 - replaces this process with Flower


def _multiprocess_metrics(settings, role: str) -> None:
    """Give this process tree a fresh PROMETHEUS_MULTIPROC_DIR unless one is set already.

    Set already means shared on purpose (`partnermatch run` gives the API and the worker one
    folder); otherwise each gunicorn worker or pool process would count alone.
    """
    from pathlib import Path

    from partnermatch.services.embedded import fresh_metrics_dir

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        folder = fresh_metrics_dir(Path(settings.VAR_DIR), role)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


@main.command()
def beat() -> None:
    """Run Celery beat: the outbox relay and other periodic jobs."""
    from pathlib import Path

    from partnermatch.services.embedded import beat_command

    settings = load_settings()
    _require_redis(settings.REDIS_URL)
    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    command = beat_command(Path(settings.VAR_DIR))
    os.execvp(command[0], command)  # noqa: S606 - replaces this process with beat


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Create demo profiles from public data so there is someone to match.")
def run(host: str, port: int, demo: bool) -> None:
    """Run the whole service on this machine: database, Redis, worker, beat and API."""
    from pathlib import Path

    from partnermatch.services.embedded import RedisMissing, redis_server_binary, run_embedded
    from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
    from partnermatch.shared.db.migrate import upgrade
    from partnermatch.shared.reference.register import load_register, register_size

    settings = load_settings()
    try:
        redis_server_binary()  # before anything is written: say at once what to install
    except RedisMissing as error:
        raise click.ClickException(str(error)) from None
    var_dir = Path(settings.VAR_DIR)
    var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.DATABASE_URL)
    engine = make_engine(settings.DATABASE_URL)
    sessions = make_sessionmaker(engine)
    with _reference_errors(), transaction(sessions) as session:
        if register_size(session) == 0:
            click.echo(f"loading the council register from {settings.REFERENCE_DATA_DIR}")
            load_register(session, settings.REFERENCE_DATA_DIR)
        if demo:
            from partnermatch.shared.profiles.demo import seed_demo

            seed_demo(session)
    engine.dispose()
    env = {"SECRET_KEY": settings.SECRET_KEY, "DATABASE_URL": settings.DATABASE_URL,
           "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text")}
    run_embedded(host, port, env, var_dir, _email_destination(settings))


def _email_destination(settings) -> str:
    """Say where the worker will send emails, as the sender it builds will."""
    if settings.EMAIL_BACKEND == "notify":
        return f"emails go through GOV.UK Notify ({settings.NOTIFY_BASE_URL})"
    backend = settings.EMAIL_BACKEND or ("smtp" if settings.SMTP_HOST else "file")
    if backend == "smtp":
        return f"emails go to the SMTP server {settings.SMTP_HOST}:{settings.SMTP_PORT}"
    return f"emails are written to {settings.outbox_dir}"


@main.group("ops-user")
def ops_user() -> None:
    """Operations logins."""


@ops_user.command("add")
@click.argument("name")
@click.password_option(help="Prompted for when not given.")
def ops_user_add(name: str, password: str) -> None:
    """Create an ops login (or set a new password); the password is stored hashed."""
    from werkzeug.security import generate_password_hash

    from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
    from partnermatch.shared.db.models import OpsUser

    if len(password) < 12:
        raise click.BadParameter("use at least 12 characters", param_hint="password")
    sessions = make_sessionmaker(make_engine(load_settings().DATABASE_URL))
    with transaction(sessions) as session:
        user = session.get(OpsUser, name) or OpsUser(name=name)
        user.password_hash = generate_password_hash(password)
        session.add(user)
    click.echo(f"ops user {name} saved")


@ops_user.command("remove")
@click.argument("name")
def ops_user_remove(name: str) -> None:
    """Remove an ops login; every session it has open ends at once."""
    from sqlalchemy import delete

    from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
    from partnermatch.shared.db.models import OpsSession, OpsUser

    sessions = make_sessionmaker(make_engine(load_settings().DATABASE_URL))
    with transaction(sessions) as session:
        session.execute(delete(OpsSession).where(OpsSession.user_name == name))
        removed = session.execute(delete(OpsUser).where(OpsUser.name == name)).rowcount
    if not removed:
        raise click.ClickException(f"no ops user {name}")
    click.echo(f"ops user {name} removed; its sessions have ended")


@contextmanager
def _alembic_errors() -> Iterator[None]:
    """Turn Alembic's refusals (an unknown revision, a database behind) into one line."""
    from alembic.util import CommandError

    try:
        yield
    except CommandError as error:
        raise click.ClickException(str(error)) from error


@contextmanager
def _reference_errors() -> Iterator[None]:
    """Turn a missing reference data file into a one-line message instead of a traceback."""
    try:
        yield
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from error


def _require_redis(url: str) -> None:
    if not url:
        raise click.UsageError("REDIS_URL is required (only `partnermatch run` starts its own).")
