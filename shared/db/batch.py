"""Several INSERTs that belong together, written in one round trip where the database allows it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Insert, Table, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_duplicates(session: Session, table: Table) -> Insert:
    """An INSERT of `table` that skips a row whose key is taken already (ON CONFLICT DO NOTHING)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def insert_all(session: Session, inserts: Sequence[Insert]) -> None:
    """Run INSERTs (each with its values) in the caller's transaction, in their order.

    On PostgreSQL they go as one statement of data-modifying CTEs: one round trip instead of one
    each. A foreign key is checked at the end of the statement, so a row may refer to one inserted
    by an earlier INSERT of the same call. Elsewhere (SQLite, in process) they run one by one.
    """
    if session.get_bind().dialect.name != "postgresql":
        for statement in inserts:
            session.execute(statement)
        return
    combined = select(literal(1))
    for number, statement in enumerate(inserts):
        combined = combined.add_cte(statement.cte(f"insert_{number}"))
    session.execute(combined)
