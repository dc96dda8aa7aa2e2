"""The real stack for the performance benchmarks: a fresh database, a private Redis, settings.

PostgreSQL databases are created on the server named by ``--postgres`` (or ``TEST_DATABASE_URL``)
and dropped afterwards; SQLite databases live in the benchmark's temporary folder.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from bench.synthetic import Profiles
from partnermatch.config.settings import load_settings
from partnermatch.services.embedded import start_redis
from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.db.migrate import upgrade
from partnermatch.shared.db.models import Council, Profile, utcnow
from partnermatch.shared.profiles.store import hash_token
from partnermatch.shared.reference.records import Candidate
from partnermatch.shared.reference.register import load_register, place_of

CANDIDATE_AGE = timedelta(days=30)  # candidates were there long before the submissions measured


def postgres_server(explicit: str | None) -> str | None:
    """Return the PostgreSQL server URL to create databases on, if any."""
    return explicit or os.environ.get("TEST_DATABASE_URL") or None


@contextmanager
def fresh_database(kind: str, workdir: Path, server: str | None) -> Iterator[str]:
    """Yield the URL of a new, migrated database with the council register loaded."""
    if kind == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        _prepare(url)
        yield url
        return
    name = f"pm_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        _prepare(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _prepare(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        load_register(session, load_settings().REFERENCE_DATA_DIR)
    engine.dispose()


@contextmanager
def broker(workdir: Path) -> Iterator[str]:
    """Yield the URL of a private redis-server (no AOF, as the other benchmarks run it)."""
    process, url = start_redis(workdir / "redis", appendonly=False)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def service_env(database_url: str, redis_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """Settings for the API and worker processes of a benchmark (production defaults otherwise).

    The result backend is for the no-op ceilings, whose callers wait on a result; processes under
    measurement that publish (the API) get ``api_env`` instead, without it, as in production.
    """
    return {
        "PARTNERMATCH_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "RESULT_BACKEND_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(16), "VAR_DIR": str(workdir / "var"),
        "MAIL_FROM": "bench@partnermatch.test", "RATE_LIMIT_SUBMIT": "1000000/minute",
        # The intake benchmark sends one body again and again, standing for many officers: each
        # request still owes its confirmation email, as a new officer's would.
        "CONFIRMATIONS_PER_ADDRESS_PER_DAY": "1000000000", **extra,
    }


def seed_candidates(database_url: str, count: int, seed: int = 0) -> int:
    """Insert ``count`` synthetic candidate profiles (bench.synthetic), dated a month ago."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        councils = list(session.query(Council))
        places = [place_of(c) for c in councils]
        rows = [_row(c, utcnow() - CANDIDATE_AGE)
                for c in Profiles(places, seed).candidates(count, prefix="bench-")]
        for start in range(0, len(rows), 2000):
            session.execute(insert(Profile), rows[start:start + 2000])
    engine.dispose()
    return len(rows)


def _row(candidate: Candidate, when) -> dict[str, object]:
    fields: dict[str, object] = {
        "contact_name": "Synthetic", "contact_email": "", "share_contact": False,
        "ratings": candidate.ratings, "strengths_text": candidate.strengths_text,
        "needs_text": candidate.needs_text, "capacity_to_support": candidate.capacity_to_support,
        "seeking": ["council", "supplier"],
    }
    if candidate.kind == "supplier":
        fields.update(name=candidate.name, regions_served=list(candidate.regions_served))
    address = f"{candidate.profile_id[:8]}@bench.example.invalid"
    fields["contact_email"] = address
    return {
        "id": candidate.profile_id, "kind": candidate.kind, "gss_code": candidate.gss_code,
        "version": 1, "fields": fields, "contact_email": address,
        "token_hash": hash_token(candidate.profile_id), "approved": candidate.approved,
        "contact_confirmed": True,  # only confirmed profiles are candidates
        "demo": False, "created_at": when, "updated_at": when,
    }


def api_env(env: dict[str, str]) -> dict[str, str]:
    """The settings of `env` without the result backend, so that publishing is as in production."""
    return {**env, "RESULT_BACKEND_URL": ""}
