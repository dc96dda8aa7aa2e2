"""Database engines and sessions: SQLite in WAL mode with a busy timeout, PostgreSQL as is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15_000
READ_ONLY = "partnermatch_read_only"  # an execution option: the transaction never writes


def make_engine(url: str) -> Engine:
    """Create an engine with the pragmas and pool settings the service relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=5,
        connect_args={"connect_timeout": 3},
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy issue BEGIN itself so writers take the lock up front (no upgrade deadlocks).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # Writers take the write lock up front; readers need none in WAL mode and must not queue
    # behind writers (or hold them up for as long as a worker builds its index).
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def make_statement_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory for work that is one statement (a claim, an outcome recorded).

    On PostgreSQL the statement commits by itself (autocommit), as durably as a transaction but
    without its BEGIN and COMMIT round trips; elsewhere the engine's own sessions.
    """
    if engine.dialect.name != "postgresql":
        return make_sessionmaker(engine)
    return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


def make_counter_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory for counters a lost last increment does not harm (attempts).

    On PostgreSQL, sessions of a small engine of their own whose each statement commits by itself
    and without waiting for the disk (a database crash may lose the last few counts, a process
    killed does not): one round trip, where a transaction takes four. Its connections are not
    pinged before use; a dropped one fails its statement, and the caller tries again.
    Elsewhere the engine's own sessions.
    """
    if engine.dialect.name != "postgresql":
        return make_sessionmaker(engine)
    counter = create_engine(
        engine.url,
        pool_size=1,
        max_overflow=4,
        pool_timeout=5,
        connect_args={"connect_timeout": 3, "options": "-c synchronous_commit=off"},
    ).execution_options(isolation_level="AUTOCOMMIT")
    return make_sessionmaker(counter)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory for reading only: on SQLite it takes no write lock."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Run a block in one transaction: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
