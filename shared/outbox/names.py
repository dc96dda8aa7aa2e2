"""The names work travels under, defined once: registered task names and attempt keys.

Task names are what a queued message carries and routes by, so they never change while messages
may be in flight. An attempt key names one piece of work in the attempt and dead-letter tables.
"""

from __future__ import annotations

from enum import StrEnum


class TaskName(StrEnum):
    """The registered name of each Celery task."""

    MATCH_PROFILE = "partnermatch.match_profile"
    REFRESH_PARTNERS = "partnermatch.refresh_partners"
    SEND_EMAIL = "partnermatch.send_email"
    SEND_PROFILE_LINKS = "partnermatch.send_profile_links"
    HANDLE_EVENT = "partnermatch.handle_event"
    RELAY_OUTBOX = "partnermatch.relay_outbox"
    PURGE_EXPIRED = "partnermatch.purge_expired"
    ERASE_EXPIRED_PROFILES = "partnermatch.erase_expired_profiles"
    NOOP = "partnermatch.noop"


# Matching and refreshing an event share one key: the relay's "a worker is on it" check reads it.
MATCH_KEY_PREFIX = "match:"
EMAIL_KEY_PREFIX = "email:"


def match_key(event_id: str) -> str:
    """Return the attempt key of the work consuming an outbox event."""
    return f"{MATCH_KEY_PREFIX}{event_id}"


def email_key(delivery_id: str) -> str:
    """Return the attempt key of sending an email delivery."""
    return f"{EMAIL_KEY_PREFIX}{delivery_id}"
