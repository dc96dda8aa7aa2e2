"""What only matters for a while is purged when that while is over, and nothing younger."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    ConfirmationSent,
    IdempotencyKey,
    LinkRequest,
    OpsSession,
    OpsUser,
    utcnow,
)
from partnermatch.shared.operations.purge import purge_expired


def test_each_kind_of_record_goes_when_its_time_is_up(sessions):
    now = utcnow()
    hours = lambda n: now - timedelta(hours=n)  # noqa: E731
    with transaction(sessions) as session:
        session.add(OpsUser(name="alex", password_hash="x"))
        session.flush()
        session.add_all([
            IdempotencyKey(key="old-submission", request_hash="h", created_at=hours(25)),
            IdempotencyKey(key="this-mornings-submission", request_hash="h", created_at=hours(23)),
            ConfirmationSent(address_key="a", profile_key="p", created_at=hours(25)),
            ConfirmationSent(address_key="a", profile_key="p", created_at=hours(2)),
            LinkRequest(email="sam.officer@leeds.gov.uk", created_at=hours(25)),
            LinkRequest(email="pat@example-care.co.uk", created_at=hours(1)),
            OpsSession(id_hash="ended", user_name="alex", expires_at=hours(1)),
            OpsSession(id_hash="signed-in", user_name="alex", expires_at=now + timedelta(hours=1)),
        ])
    with transaction(sessions) as session:
        purged = purge_expired(session, now)
    assert purged == {"idempotency_keys": 1, "confirmations_sent": 1, "link_requests": 1,
                      "ops_sessions": 1}
    with sessions() as session:
        assert session.scalars(select(IdempotencyKey.key)).all() == ["this-mornings-submission"]
        assert session.scalars(select(LinkRequest.email)).all() == ["pat@example-care.co.uk"]
        assert session.scalars(select(OpsSession.id_hash)).all() == ["signed-in"]
        assert len(session.scalars(select(ConfirmationSent.id)).all()) == 1


def test_a_second_pass_finds_nothing_more(sessions):
    now = utcnow()
    with transaction(sessions) as session:
        session.add(IdempotencyKey(key="old", request_hash="h", created_at=now - timedelta(days=2)))
    with transaction(sessions) as session:
        assert purge_expired(session, now)["idempotency_keys"] == 1
    with transaction(sessions) as session:
        assert set(purge_expired(session, now).values()) == {0}
