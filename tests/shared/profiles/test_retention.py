"""Retention: profiles not updated for RETENTION_DAYS are erased; recent ones are kept."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import OutboxEvent, Profile, utcnow
from partnermatch.shared.profiles import retention
from partnermatch.shared.profiles.store import create_profile
from tests.services.api.helpers import council_body


def add_profile(sessions, email: str, days_old: int) -> str:
    with transaction(sessions) as session:
        profile, _token = create_profile(session, council_body(contact_email=email))
        profile_id = profile.id
    with transaction(sessions) as session:
        session.execute(update(Profile).where(Profile.id == profile_id)
                        .values(updated_at=utcnow() - timedelta(days=days_old)))
    return profile_id


def test_profiles_older_than_the_retention_period_are_erased(sessions):
    old = add_profile(sessions, "old@leeds.gov.uk", days_old=731)
    fresh = add_profile(sessions, "fresh@leeds.gov.uk", days_old=729)
    with transaction(sessions) as session:
        assert retention.erase_expired(session, utcnow(), days=730) == 1
    with sessions() as session:
        assert session.get(Profile, old) is None and session.get(Profile, fresh) is not None
        deleted = session.scalars(select(OutboxEvent.profile_id)
                                  .where(OutboxEvent.topic == "profile.deleted")).all()
    assert deleted == [old]  # the workers' indexes drop it as for any erasure


def test_an_update_restarts_the_retention_period(sessions):
    profile_id = add_profile(sessions, "busy@leeds.gov.uk", days_old=1000)
    with transaction(sessions) as session:
        session.get(Profile, profile_id).updated_at = utcnow()
    with transaction(sessions) as session:
        assert retention.erase_expired(session, utcnow(), days=730) == 0


def test_erasure_goes_in_batches_oldest_first(sessions):
    ids = [add_profile(sessions, f"p{n}@leeds.gov.uk", days_old=800 + n) for n in range(3)]
    with sessions() as session:
        assert retention.expired_profile_ids(session, utcnow(), 730, limit=2) == ids[:0:-1]
    with transaction(sessions) as session:
        assert retention.erase_expired(session, utcnow(), 730, limit=2) == 2
    with transaction(sessions) as session:
        assert retention.erase_expired(session, utcnow(), 730, limit=2) == 1
