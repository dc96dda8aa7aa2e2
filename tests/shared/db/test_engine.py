"""SQLite: writers take the write lock when they begin; readers take none and hold up nobody."""

from __future__ import annotations

import time

from sqlalchemy import text

from partnermatch.shared.db.engine import (
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    transaction,
)


def test_a_reader_in_a_transaction_does_not_hold_up_a_writer_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'partnermatch.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with make_read_sessionmaker(engine)() as reading:
        reading.execute(text("SELECT count(*) FROM t"))  # its transaction is now open
        started = time.monotonic()
        with transaction(make_sessionmaker(engine)) as writing:
            writing.execute(text("INSERT INTO t VALUES (1)"))
        assert time.monotonic() - started < 1
        assert reading.scalar(text("SELECT count(*) FROM t")) == 0  # its own snapshot
    engine.dispose()
