"""Several INSERTs that belong together, written in one round trip where the database allows it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Executable, Table, bindparam, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

Row = tuple[Table, dict[str, Any]]  # a table and the values of one row for it
_STATEMENTS: dict[tuple, list[Executable]] = {}  # built once for each shape of rows


def insert_all(session: Session, rows: Sequence[Row], skip_taken: Sequence[Table] = ()) -> None:
    """Insert rows in the caller's transaction, in their order; a row of a `skip_taken` table
    whose key is taken already is skipped (ON CONFLICT DO NOTHING).

    On PostgreSQL they go as one statement of data-modifying CTEs: one round trip instead of one
    each. A foreign key is checked at the end of the statement, so a row may refer to one inserted
    by an earlier row of the same call. Elsewhere (SQLite, in process) they run one by one. The
    statements are built once for each shape of rows (tables and columns) and reused.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    shape = (dialect, *((table, tuple(values), table in skip_taken) for table, values in rows))
    statements = _STATEMENTS.get(shape)
    if statements is None:
        statements = _STATEMENTS[shape] = _build(dialect, shape[1:])
    if dialect == "postgresql":
        connection.execute(statements[0], {f"r{number}_{key}": value
                                           for number, (_table, values) in enumerate(rows)
                                           for key, value in values.items()})
        return
    for statement, (_table, values) in zip(statements, rows, strict=True):
        connection.execute(statement, values)


def _build(dialect: str, shape: Sequence[tuple[Table, tuple[str, ...], bool]]
           ) -> list[Executable]:
    module = postgresql if dialect == "postgresql" else sqlite
    if dialect != "postgresql":
        return [module.insert(table).on_conflict_do_nothing() if skip else insert(table)
                for table, _columns, skip in shape]
    combined = select(literal(1))
    for number, (table, columns, skip) in enumerate(shape):
        statement = module.insert(table).values(
            {key: bindparam(f"r{number}_{key}", type_=table.c[key].type) for key in columns})
        if skip:
            statement = statement.on_conflict_do_nothing()
        combined = combined.add_cte(statement.cte(f"insert_{number}"))
    return [combined]
