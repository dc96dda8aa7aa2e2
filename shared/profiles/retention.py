"""Retention: profiles not updated for RETENTION_DAYS are erased, as the privacy notice says."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import Profile
from partnermatch.shared.profiles.store import erase_profile

BATCH = 200


def expired_profile_ids(session: Session, now: datetime, days: int,
                        limit: int = BATCH) -> list[str]:
    """Return the ids of profiles last updated more than `days` days before `now`."""
    cutoff = now - timedelta(days=days)
    return list(session.scalars(select(Profile.id).where(Profile.updated_at < cutoff)
                                .order_by(Profile.updated_at).limit(limit)))


def erase_expired(session: Session, now: datetime, days: int, limit: int = BATCH) -> int:
    """Erase up to `limit` expired profiles in the caller's transaction; return how many."""
    ids = expired_profile_ids(session, now, days, limit)
    for profile_id in ids:
        erase_profile(session, session.get(Profile, profile_id))
    return len(ids)
