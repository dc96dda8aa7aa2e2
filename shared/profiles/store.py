"""Storing profiles: validation that needs the register, versions, tokens, outbox, erasure."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import (
    ContactAddress,
    Council,
    CouncilCode,
    LinkRequest,
    OutboxEvent,
    Profile,
    ProfileVersion,
    new_id,
    utcnow,
)
from partnermatch.shared.profiles import erasure
from partnermatch.shared.reference.addresses import address_status, check_address
from partnermatch.shared.reference.register import UNREAD, council_facts
from partnermatch.shared.reference.taxonomy import SERVICE_AREAS, areas_delivered_by

IDENTITY_FIELDS = ("kind", "gss_code")


def new_token() -> tuple[str, str]:
    """Return a fresh bearer token and the hash we keep of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """Hash a token for storage; tokens are random, so a plain SHA-256 is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(profile: Profile, token: str) -> bool:
    """Compare a presented token with the stored hash in constant time."""
    return hmac.compare_digest(profile.token_hash, hash_token(token))


def resolve_council(session: Session, code: str) -> Council | None:
    """Find a current council by its GSS code or any former or newer code."""
    return session.scalar(
        select(Council).join(CouncilCode, CouncilCode.gss_code == Council.gss_code)
        .where(CouncilCode.code == code.upper())
    )


def check_profile(session: Session, fields: dict[str, Any], allowed_domains: Iterable[str],
                  register_stamp: datetime | None | object = UNREAD):
    """Raise ValidationError for what the schema cannot know: the register and the domain rule.

    Returns the council's facts (gss_code, name, council_type, web_domains) for a council
    profile, None for a supplier's, so that create_profile need not read the council again.
    `register_stamp` is the register's stamp if the caller has read it (see council_facts).
    """
    if fields["kind"] != "council":
        return None
    errors: dict[str, list[str]] = {}
    council = council_facts(session, fields["gss_code"], register_stamp)
    if council is None:
        errors["gss_code"] = ["Not a current council in the register."]
    else:
        fields["gss_code"] = council.gss_code
        delivered = areas_delivered_by(council.council_type)
        for area in fields["ratings"]:
            if area not in delivered:
                errors[f"ratings.{area}"] = [
                    f"{council.name} does not deliver {SERVICE_AREAS[area].lower()}."
                ]
    domain = fields["contact_email"].rsplit("@", 1)[1]
    if not any(domain == d or domain.endswith("." + d) for d in allowed_domains):
        errors["contact_email"] = [
            "Use your council email address (ending " + ", ".join(allowed_domains) + ")."
        ]
    if errors:
        raise ValidationError(errors)
    return council


def create_profile(session: Session, fields: dict[str, Any], council=None,
                   **flags: bool) -> tuple[Profile, str]:
    """Store a new profile, its first version and a submitted event in the caller's transaction.

    `council` is what check_profile returned for `fields`. Given, the address is checked against
    it before the profile is written (no read of the council, no update of the new row), and the
    version and the event are left to the caller's next flush (its commit), to go with whatever
    else it adds. Without it, the council is read once the profile is stored and everything is
    flushed here.
    """
    token, token_hash = new_token()
    profile = Profile(
        id=new_id(),
        kind=fields["kind"],
        gss_code=fields.get("gss_code"),
        version=1,
        fields=editable(fields),
        contact_email=fields["contact_email"],
        token_hash=token_hash,
        approved=fields["kind"] == "council" or flags.get("approved", False),
        demo=flags.get("demo", False),
    )
    profile.contact_confirmed = is_confirmed(session, profile.contact_email)
    checked = council is not None or profile.kind != "council"
    if checked:
        profile.address_status = address_status(profile, council)
    session.add(profile)
    # Rows referring to the profile have no relationship to it that would order their INSERTs
    # after its own, so it is written first, alone.
    session.flush()
    if not checked:
        check_address(profile)  # the council, whose web domains check the address, loads now
    _record_version(session, profile, "profile.submitted")
    if not checked:
        session.flush()
    return profile, token


def update_profile(session: Session, profile: Profile, fields: dict[str, Any]) -> None:
    """Replace the editable fields, bump the version and record an updated event."""
    previous_address = profile.contact_email
    profile.fields = editable(fields)
    profile.contact_email = fields["contact_email"]
    check_address(profile, previous_address)
    if profile.contact_email != previous_address:
        profile.contact_confirmed = is_confirmed(session, profile.contact_email)
    profile.version += 1
    profile.updated_at = utcnow()
    _record_version(session, profile, "profile.updated")


def rotate_token(profile: Profile) -> str:
    """Give a profile a new token; the old one stops working."""
    token, profile.token_hash = new_token()
    return token


def erase_profile(session: Session, profile: Profile) -> None:
    """Erase a profile, its versions, results and contact details; cancel its unsent email.

    Afterwards only the "profile.deleted" event holds its id (shared/profiles/erasure.py lists the
    rest).
    """
    erasure.forget_emails(session, profile.id)
    erasure.forget_as_partner(session, profile.id)
    erasure.forget_events_and_replays(session, profile.id)
    address = profile.contact_email
    session.delete(profile)
    session.flush()
    if session.scalar(select(Profile.id).where(Profile.contact_email == address)) is None:
        session.execute(delete(ContactAddress).where(ContactAddress.email == address))
        session.execute(delete(LinkRequest).where(LinkRequest.email == address))
    session.add(OutboxEvent(topic="profile.deleted", profile_id=profile.id))


def editable(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in IDENTITY_FIELDS}


def _record_version(session: Session, profile: Profile, topic: str) -> None:
    session.add(
        ProfileVersion(profile_id=profile.id, version=profile.version, fields=profile.fields)
    )
    session.add(OutboxEvent(topic=topic, profile_id=profile.id, profile_version=profile.version))


def is_confirmed(session: Session, address: str) -> bool:
    """Say whether an address has been confirmed by its owner."""
    contact = session.get(ContactAddress, address)
    return bool(contact and contact.confirmed_at)
