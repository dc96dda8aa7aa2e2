"""Submitting a profile: the one use case behind the JSON API's POST and the web form's submit.

The caller parses (the API's ProfileSchema, the form's schema for its kind) and then calls
submit_profile inside its transaction; everything stored here commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from partnermatch.shared.db.models import ContactAddress, Profile
from partnermatch.shared.notifications.owed import ConfirmationPolicy, owe_confirmation
from partnermatch.shared.profiles.store import check_profile, create_profile


@dataclass(frozen=True)
class Submitted:
    """A profile just stored, and its bearer token (shown once; only its hash is kept)."""

    profile: Profile
    token: str


def submit_profile(session: Session, fields: dict[str, Any], allowed_domains: Iterable[str],
                   confirmation: ConfirmationPolicy) -> Submitted:
    """Store a new profile from fields its schema has loaded, in the caller's transaction.

    Checks what the schema cannot know (the council register, the email domain rule) and raises
    ValidationError before anything is stored; then stores the profile, its first version and
    its "profile.submitted" outbox event, and owes the confirmation email its address needs.
    A former council code in `fields` is replaced by the council's current one.

    The council is read once, for both the check and the address status; the profile is written
    alone (the other rows refer to it), and everything else in one flush at the caller's commit:
    nothing read meanwhile depends on the rows added.
    """
    council = check_profile(session, fields, allowed_domains)
    # Held while both below read it: the session keeps loaded rows only while they are referenced.
    contact = session.get(ContactAddress, fields["contact_email"])  # noqa: F841
    with session.no_autoflush:
        profile, token = create_profile(session, fields, council=council)
        owe_confirmation(session, profile, confirmation, new_profile=True)
    return Submitted(profile, token)
