"""Signed, expiring, single-purpose links for emails (confirm an address, see your matches)."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

CONFIRM = "confirm-email"
MATCHES = "view-matches"
MAX_AGE = {CONFIRM: 7 * 24 * 3600, MATCHES: 30 * 24 * 3600}


class LinkError(Exception):
    """A link that is tampered with, expired or meant for something else."""


def sign(secret_key: str, purpose: str, payload: dict[str, Any]) -> str:
    """Return a signed token for one purpose."""
    return URLSafeTimedSerializer(secret_key, salt=purpose).dumps(payload)


def verify(secret_key: str, purpose: str, token: str) -> dict[str, Any]:
    """Return a token's payload, or raise LinkError."""
    serializer = URLSafeTimedSerializer(secret_key, salt=purpose)
    try:
        return serializer.loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired as error:
        raise LinkError("This link has expired.") from error
    except BadSignature as error:
        raise LinkError("This link is not valid.") from error
