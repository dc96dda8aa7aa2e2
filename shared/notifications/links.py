"""Signed, expiring, single-purpose links for emails; the ones that sign a person in work once.

Each purpose has its own salt, so a token made for one purpose is refused by every other. Links
that sign a person in to a profile carry a random nonce; using one records it (UsedLink) so the
same link cannot sign anyone in again, even before it expires.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import UsedLink, utcnow

CONFIRM = "confirm-email"
MANAGE = "manage-profile"
UNSUBSCRIBE = "unsubscribe"
FEEDBACK = "feedback"
INTRODUCTION = "introduction"
MAX_AGE = {
    CONFIRM: 7 * 24 * 3600,
    MANAGE: 14 * 24 * 3600,
    UNSUBSCRIBE: 365 * 24 * 3600,
    FEEDBACK: 90 * 24 * 3600,
    INTRODUCTION: 30 * 24 * 3600,
}
SINGLE_USE = (CONFIRM, MANAGE)


class LinkError(Exception):
    """A link that is tampered with, expired or meant for something else."""


def sign(secret_key: str, purpose: str, payload: dict[str, Any]) -> str:
    """Return a signed token for one purpose (with a nonce if the link is single-use)."""
    if purpose in SINGLE_USE:
        payload = {**payload, "n": secrets.token_urlsafe(12)}
    return URLSafeTimedSerializer(secret_key, salt=purpose).dumps(payload)


def verify(secret_key: str, purpose: str, token: str) -> dict[str, Any]:
    """Return a token's payload, or raise LinkError."""
    if purpose not in MAX_AGE or len(token) > 2000:
        raise LinkError("This link is not valid.")
    serializer = URLSafeTimedSerializer(secret_key, salt=purpose)
    try:
        payload = serializer.loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired as error:
        raise LinkError("This link has expired.") from error
    except BadSignature as error:
        raise LinkError("This link is not valid.") from error
    if not isinstance(payload, dict):
        raise LinkError("This link is not valid.")
    return payload


def use_once(session: Session, purpose: str, payload: dict[str, Any]) -> bool:
    """Record a single-use link as used; False if it was used before."""
    nonce = payload.get("n")
    if not isinstance(nonce, str) or not nonce:
        return False
    _forget_expired(session)
    try:
        with session.begin_nested():
            session.add(UsedLink(id=f"{purpose}:{nonce}"))
    except IntegrityError:
        return False
    return True


def _forget_expired(session: Session) -> None:
    """Drop records of links too old to be accepted anyway."""
    oldest = utcnow() - timedelta(seconds=max(MAX_AGE[p] for p in SINGLE_USE))
    session.execute(delete(UsedLink).where(UsedLink.used_at < oldest))
