"""Storing profiles: a second visit's edit, a new link, and what erasing leaves behind."""

from __future__ import annotations

from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import ContactAddress, OutboxEvent, Profile, ProfileVersion
from partnermatch.shared.profiles.schemas import SCHEMAS
from partnermatch.shared.profiles.store import (
    create_profile,
    erase_profile,
    rotate_token,
    token_matches,
    update_profile,
)
from partnermatch.shared.recommendations.confirmation import confirm_address
from tests.services.api.helpers import council_body

SAM, JO = "sam.officer@leeds.gov.uk", "jo.lead@leeds.gov.uk"


def stored(sessions, **changes) -> tuple[str, str]:
    fields = SCHEMAS["council"]().load(council_body(**changes))
    with transaction(sessions) as session:
        profile, token = create_profile(session, fields)
        return profile.id, token


def edit(sessions, profile_id: str, **changes) -> None:
    fields = SCHEMAS["council"]().load(council_body(**changes))
    with transaction(sessions) as session:
        update_profile(session, session.get(Profile, profile_id), fields)


def topics(session, profile_id: str) -> list[tuple[str, int | None]]:
    rows = session.execute(select(OutboxEvent.topic, OutboxEvent.profile_version)
                           .where(OutboxEvent.profile_id == profile_id)
                           .order_by(OutboxEvent.created_at, OutboxEvent.id)).all()
    return [tuple(row) for row in rows]


def test_an_edit_is_a_new_version_with_its_own_event_and_the_first_is_kept(sessions):
    profile_id, _ = stored(sessions, ratings={"highways_transport": 2})
    edit(sessions, profile_id, ratings={"highways_transport": 4})
    with sessions() as session:
        profile = session.get(Profile, profile_id)
        assert profile.version == 2 and profile.fields["ratings"] == {"highways_transport": 4}
        versions = session.execute(select(ProfileVersion.version, ProfileVersion.fields)
                                   .where(ProfileVersion.profile_id == profile_id)
                                   .order_by(ProfileVersion.version)).all()
        assert [(v, f["ratings"]) for v, f in versions] == [(1, {"highways_transport": 2}),
                                                            (2, {"highways_transport": 4})]
        assert sorted(topics(session, profile_id)) == [("profile.submitted", 1),
                                                       ("profile.updated", 2)]


def test_an_edit_to_an_address_already_confirmed_needs_no_new_confirmation(sessions):
    profile_id, _ = stored(sessions, contact_email=SAM)
    other_id, _ = stored(sessions, contact_email=JO)
    with transaction(sessions) as session:
        confirm_address(session, JO)
    edit(sessions, profile_id, contact_email=JO)
    with sessions() as session:
        assert session.get(Profile, profile_id).contact_confirmed
        assert session.get(Profile, other_id).contact_confirmed


def test_a_new_token_works_and_the_old_one_stops_working(sessions):
    profile_id, old = stored(sessions)
    with transaction(sessions) as session:
        new = rotate_token(session.get(Profile, profile_id))
    with sessions() as session:
        profile = session.get(Profile, profile_id)
        assert token_matches(profile, new) and not token_matches(profile, old)


def test_erasing_keeps_a_shared_address_until_its_last_profile_goes(sessions):
    first_id, _ = stored(sessions, contact_email=SAM)
    second_id, _ = stored(sessions, contact_email=SAM)
    with transaction(sessions) as session:
        confirm_address(session, SAM)
    with transaction(sessions) as session:
        erase_profile(session, session.get(Profile, first_id))
    with sessions() as session:
        assert session.get(Profile, first_id) is None
        assert session.get(ContactAddress, SAM) is not None  # the second profile still uses it
        assert topics(session, first_id) == [("profile.deleted", None)]
    with transaction(sessions) as session:
        erase_profile(session, session.get(Profile, second_id))
    with sessions() as session:
        assert session.get(ContactAddress, SAM) is None
        assert session.scalars(select(ProfileVersion)
                               .where(ProfileVersion.profile_id == second_id)).all() == []
