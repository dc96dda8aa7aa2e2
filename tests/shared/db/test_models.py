"""Timestamps are timezone-aware UTC whichever database stores them; a naive one is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import AuditEntry, new_id, utcnow

BRITISH_SUMMER_TIME = timezone(timedelta(hours=1))


def test_a_time_given_in_summer_time_is_read_back_in_utc(sessions):
    noon_in_leeds = datetime(2026, 7, 1, 12, 0, tzinfo=BRITISH_SUMMER_TIME)
    with transaction(sessions) as session:
        entry = AuditEntry(actor="alex", action="supplier.approved", created_at=noon_in_leeds)
        session.add(entry)
        session.flush()
        entry_id = entry.id
    with sessions() as session:
        stored = session.get(AuditEntry, entry_id).created_at
    assert stored == datetime(2026, 7, 1, 11, 0, tzinfo=UTC) and stored.utcoffset() == timedelta(0)


def test_a_time_without_a_zone_is_refused(sessions):
    with pytest.raises(StatementError, match="naive datetime"), transaction(sessions) as session:
        session.add(AuditEntry(actor="alex", action="x", created_at=datetime(2026, 7, 1, 12)))
        session.flush()


def test_now_is_in_utc_and_ids_are_new_each_time():
    assert utcnow().tzinfo is UTC
    assert len({new_id() for _ in range(1000)}) == 1000
