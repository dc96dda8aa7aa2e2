"""Submitting a profile, the use case behind the API's POST and the web form's submit."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError
from sqlalchemy import select, update

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    ContactAddress,
    Council,
    EmailDelivery,
    OutboxEvent,
    Profile,
    ProfileVersion,
    utcnow,
)
from partnermatch.shared.notifications.owed import ConfirmationPolicy
from partnermatch.shared.profiles.schemas import SCHEMAS
from partnermatch.shared.profiles.store import resolve_council, token_matches
from partnermatch.shared.profiles.submit import check_submission, submit_profile
from tests.services.api.helpers import LEEDS, council_body

DOMAINS = ("gov.uk",)
MUST_CONFIRM = ConfirmationPolicy(required=True, secret_key="test-secret-key")
GATESHEAD_FORMER = "E08000020"  # Gateshead's former code, still accepted


def submit(sessions, body: dict, policy: ConfirmationPolicy = MUST_CONFIRM):
    fields = SCHEMAS[body["kind"]]().load(body)
    with transaction(sessions) as session:
        submitted = submit_profile(session, fields, DOMAINS, policy)
        return submitted.profile.id, submitted.token


def supplier_body() -> dict:
    return {"kind": "supplier", "name": "Example Care Ltd", "contact_name": "Pat Supplier",
            "contact_email": "pat@care-ltd.co.uk", "ratings": {"adult_social_care": 5},
            "regions_served": ["North West"], "evidence_text": "CQC outstanding"}


def test_a_council_profile_is_stored_with_its_version_event_and_confirmation(sessions):
    profile_id, token = submit(sessions, council_body())
    with sessions() as session:
        profile = session.get(Profile, profile_id)
        assert (profile.kind, profile.gss_code, profile.version) == ("council", LEEDS, 1)
        assert profile.approved and not profile.contact_confirmed
        assert token_matches(profile, token)
        assert session.scalars(select(ProfileVersion.version)
                               .where(ProfileVersion.profile_id == profile_id)).all() == [1]
        events = session.execute(select(OutboxEvent.topic, OutboxEvent.profile_version)
                                 .where(OutboxEvent.profile_id == profile_id)).all()
        assert [tuple(e) for e in events] == [("profile.submitted", 1)]
        owed = session.execute(select(EmailDelivery.purpose, EmailDelivery.to_address)
                               .where(EmailDelivery.profile_id == profile_id)).all()
        assert [tuple(o) for o in owed] == [("confirmation", "sam.officer@leeds.gov.uk")]


def test_a_former_council_code_is_stored_as_the_current_one(sessions):
    profile_id, _ = submit(sessions, council_body(gss_code=GATESHEAD_FORMER,
                                                  contact_email="a@gateshead.gov.uk",
                                                  ratings={"waste": 2}))
    with sessions() as session:
        current = resolve_council(session, GATESHEAD_FORMER)
        assert current is not None and current.gss_code == "E08000037"
        assert session.get(Profile, profile_id).gss_code == current.gss_code


@pytest.mark.parametrize(("overrides", "field"), [
    ({"contact_email": "sam@gmail.com"}, "contact_email"),
    ({"gss_code": "E99999999"}, "gss_code"),
    ({"gss_code": "E07000008", "ratings": {"adult_social_care": 2}},  # a district: no care
     "ratings.adult_social_care"),
])
def test_what_the_register_or_domain_rule_refuses_stores_nothing(sessions, overrides, field):
    with pytest.raises(ValidationError) as refused:
        submit(sessions, council_body(**overrides))
    assert field in refused.value.messages
    with sessions() as session:
        for table in (Profile, ProfileVersion, OutboxEvent, EmailDelivery, ContactAddress):
            assert session.scalars(select(table)).all() == []


def test_without_required_confirmation_the_address_counts_as_confirmed(sessions):
    policy = ConfirmationPolicy(required=False, secret_key="test-secret-key")
    profile_id, _ = submit(sessions, council_body(), policy)
    with sessions() as session:
        assert session.get(Profile, profile_id).contact_confirmed
        assert session.get(ContactAddress, "sam.officer@leeds.gov.uk").confirmed_at is not None
        assert session.scalars(select(EmailDelivery)).all() == []


def test_a_supplier_waits_for_approval_and_needs_no_council_address(sessions):
    profile_id, _ = submit(sessions, supplier_body())
    with sessions() as session:
        profile = session.get(Profile, profile_id)
        assert (profile.kind, profile.gss_code, profile.approved) == ("supplier", None, False)
        assert profile.fields["name"] == "Example Care Ltd"
        owed = session.scalars(select(EmailDelivery.purpose)).all()
        assert owed == ["confirmation"]


def _set_leeds_domains(sessions, domains: list[str]) -> None:
    with transaction(sessions) as session:  # as loading the register does: new facts, new stamp
        session.execute(update(Council).where(Council.gss_code == LEEDS)
                        .values(web_domains=domains, refreshed_at=utcnow()))


def test_a_register_loaded_again_is_seen_by_the_next_submission(sessions):
    first, _ = submit(sessions, council_body())  # the register's facts are cached now
    try:
        _set_leeds_domains(sessions, ["leeds-council.gov.uk"])
        second, _ = submit(sessions, council_body(contact_email="sam@leeds.gov.uk"))
    finally:
        _set_leeds_domains(sessions, ["leeds.gov.uk"])
    third, _ = submit(sessions, council_body(contact_email="kim@leeds.gov.uk"))
    with sessions() as session:
        statuses = [session.get(Profile, p).address_status for p in (first, second, third)]
    assert statuses == ["council_domain", "unverified", "council_domain"]


def test_an_address_another_submission_adds_meanwhile_is_no_conflict(sessions):
    fields = SCHEMAS["council"]().load(council_body())
    with sessions() as session:
        checked = check_submission(session, fields, DOMAINS, MUST_CONFIRM)
    assert not checked.address.known
    other, _ = submit(sessions, council_body())  # adds the address first
    with transaction(sessions) as session:
        late = submit_profile(session, fields, DOMAINS, MUST_CONFIRM, checked).profile.id
    with sessions() as session:
        assert session.scalars(select(ContactAddress.email)).all() == ["sam.officer@leeds.gov.uk"]
        owed = session.scalars(select(EmailDelivery.profile_id)
                               .where(EmailDelivery.purpose == "confirmation")).all()
        assert sorted(owed) == sorted([other, late])
