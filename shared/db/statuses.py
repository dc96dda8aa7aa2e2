"""The statuses stored in the database, defined once: a match run's, an email delivery's and an
introduction's. Each value is the string stored in its table's `status` column."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where matching a profile's version stands (`match_runs.status`)."""

    PENDING = "pending"  # never stored: no run yet, as the API and status page say it
    READY = "ready"
    FAILED = "failed"


class DeliveryStatus(StrEnum):
    """Where an email stands (`email_deliveries.status`): pending → sending → one of the rest."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"
    CANCELLED = "cancelled"


class IntroductionStatus(StrEnum):
    """Where a request to be introduced stands (`introductions.status`)."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
