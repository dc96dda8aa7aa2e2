"""Records that only matter for a while, purged when that while is over (hourly, from beat).

Stored Idempotency-Key replays (they hold a new profile's token) after 24 hours; the counts behind
the daily confirmation caps after a day; link requests no worker took within a day; ops sessions
that have ended.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import ConfirmationSent, IdempotencyKey, LinkRequest, OpsSession

IDEMPOTENCY_KEPT_FOR = timedelta(hours=24)
DAY = timedelta(days=1)


def purge_expired(session: Session, now: datetime) -> dict[str, int]:
    """Delete what has outlived its purpose in the caller's transaction; say how many of each."""
    statements = {
        "idempotency_keys": delete(IdempotencyKey)
        .where(IdempotencyKey.created_at < now - IDEMPOTENCY_KEPT_FOR),
        "confirmations_sent": delete(ConfirmationSent)
        .where(ConfirmationSent.created_at < now - DAY),
        "link_requests": delete(LinkRequest).where(LinkRequest.created_at < now - DAY),
        "ops_sessions": delete(OpsSession).where(OpsSession.expires_at <= now),
    }
    return {name: session.execute(statement).rowcount or 0
            for name, statement in statements.items()}
