"""Submitting a profile: the one use case behind the JSON API's POST and the web form's submit.

The caller parses (the API's ProfileSchema, the form's schema for its kind) and then calls
submit_profile inside its transaction; everything stored here commits or rolls back with it.
A caller may instead read first (check_submission, in a transaction of its own that takes no
write lock) and then write (store_submission): on SQLite the write lock is then held only for
the writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from partnermatch.shared.db.batch import insert_all
from partnermatch.shared.db.models import (
    ConfirmationSent,
    ContactAddress,
    EmailDelivery,
    OutboxEvent,
    Profile,
    ProfileVersion,
    new_id,
    utcnow,
)
from partnermatch.shared.notifications.owed import (
    AddressState,
    ConfirmationPolicy,
    NewProfileConfirmation,
    address_state,
    address_state_parameters,
    address_state_query,
    confirmation_for_new_profile,
)
from partnermatch.shared.outbox.events import email_work, match_work, record_work
from partnermatch.shared.profiles.store import check_profile, editable, new_token
from partnermatch.shared.reference.addresses import address_status
from partnermatch.shared.reference.register import register_stamp

_CHECK = address_state_query().add_columns(register_stamp())  # built once: reused per request


@dataclass(frozen=True)
class Submitted:
    """A profile just stored, and its bearer token (shown once; only its hash is kept)."""

    profile: Profile
    token: str


@dataclass(frozen=True)
class Checked:
    """What a submission read before writing: its council's facts (None for a supplier) and
    the state of its contact address."""

    council: Row | None
    address: AddressState


def submit_profile(session: Session, fields: dict[str, Any], allowed_domains: Iterable[str],
                   confirmation: ConfirmationPolicy, checked: Checked | None = None) -> Submitted:
    """Store a new profile from fields its schema has loaded, in the caller's transaction.

    Checks what the schema cannot know (the council register, the email domain rule) and raises
    ValidationError before anything is stored; then stores the profile, its first version and
    its "profile.submitted" outbox event, and owes the confirmation email its address needs.
    A former council code in `fields` is replaced by the council's current one. `checked` is
    what check_submission returned for `fields`, if the caller read it already.
    """
    if checked is None:
        checked = check_submission(session, fields, allowed_domains, confirmation)
    return store_submission(session, fields, checked, confirmation)


def check_submission(session: Session, fields: dict[str, Any], allowed_domains: Iterable[str],
                     confirmation: ConfirmationPolicy) -> Checked:
    """Read what storing a submission depends on, and raise ValidationError if it is refused.

    One statement reads the contact address's state and the register's stamp; the council comes
    from the register's facts cached in the process (read again only when the stamp changed).
    """
    row = session.execute(_CHECK, address_state_parameters(confirmation, fields["contact_email"])
                          ).one()
    council = check_profile(session, fields, allowed_domains, register_stamp=row[3])
    return Checked(council, address_state(row))


def store_submission(session: Session, fields: dict[str, Any], checked: Checked,
                     confirmation: ConfirmationPolicy) -> Submitted:
    """Write a checked submission: profile, version, event and what its address is owed, in
    one round trip on PostgreSQL (see insert_all); publish its work after the commit."""
    token, token_hash = new_token()
    now = utcnow()
    profile = Profile(
        id=new_id(), kind=fields["kind"], gss_code=fields.get("gss_code"), version=1,
        fields=editable(fields), contact_email=fields["contact_email"], token_hash=token_hash,
        approved=fields["kind"] == "council", demo=False, created_at=now, updated_at=now,
    )
    profile.address_status = address_status(profile, checked.council)
    event_id = new_id()
    version_and_event = [
        (ProfileVersion.__table__, {"profile_id": profile.id, "version": 1,
                                    "fields": profile.fields, "created_at": now}),
        (OutboxEvent.__table__, {"id": event_id, "topic": "profile.submitted",
                                 "profile_id": profile.id, "profile_version": 1,
                                 "created_at": now, "publish_count": 0}),
    ]
    owed = owe_confirmation(confirmation, profile, checked.address)
    insert_all(session, [
        (Profile.__table__, _columns(profile)), *version_and_event, *_owed_rows(owed),
    ], skip_taken=[ContactAddress.__table__])  # another request may add the address meanwhile
    work = [match_work(event_id)]
    if owed.delivery is not None:
        work.append(email_work(owed.delivery["id"]))
    record_work(session, work)
    return Submitted(profile, token)


def owe_confirmation(policy: ConfirmationPolicy, profile: Profile,
                     address: AddressState) -> NewProfileConfirmation:
    """What a new profile owes its address (the rows to write with it); records on the profile
    whether the address counts as confirmed."""
    owed = confirmation_for_new_profile(policy, profile.id, profile.contact_email, profile.demo,
                                        address)
    profile.contact_confirmed = owed.confirmed
    return owed


def _columns(profile: Profile) -> dict[str, Any]:
    return {column.key: getattr(profile, column.key) for column in Profile.__table__.columns}


def _owed_rows(owed: NewProfileConfirmation) -> list[tuple]:
    return [(table, values) for table, values in ((ContactAddress.__table__, owed.contact),
                                                  (ConfirmationSent.__table__, owed.counted),
                                                  (EmailDelivery.__table__, owed.delivery))
            if values is not None]
