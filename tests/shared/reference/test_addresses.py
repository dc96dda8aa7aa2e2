"""Who an address belongs to: the council (its own domain), a shared service, or to check."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Council, Profile
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.reference.addresses import (
    COUNCIL_DOMAIN,
    SHARED_SERVICE,
    UNVERIFIED,
    VERIFIED,
    is_candidate,
    may_share_contact,
    status_for,
)
from partnermatch.shared.reference.register import load_register
from tests.shared.recommendations.test_live_index import council_fields

LEEDS, GWYNEDD, BABERGH, MID_SUFFOLK = "E08000035", "W06000002", "E07000200", "E07000203"


@pytest.fixture
def council(sessions):
    with sessions() as session:
        return {gss: session.get(Council, gss) for gss in (LEEDS, GWYNEDD, BABERGH, MID_SUFFOLK)}


@pytest.mark.parametrize(("gss", "address", "status"), [
    (LEEDS, "sam@leeds.gov.uk", COUNCIL_DOMAIN),
    (LEEDS, "Sam@Adults.LEEDS.gov.uk", COUNCIL_DOMAIN),  # a department's subdomain
    (LEEDS, "sam@notleeds.gov.uk", UNVERIFIED),  # a look-alike name is another body
    (LEEDS, "sam@leeds.gov.uk.example.com", UNVERIFIED),
    (LEEDS, "sam@bradford.gov.uk", UNVERIFIED),  # any gov.uk is not enough
    (GWYNEDD, "swyddog@gwynedd.llyw.cymru", COUNCIL_DOMAIN),
    (GWYNEDD, "officer@gwynedd.gov.uk", COUNCIL_DOMAIN),  # its name in another gov suffix
    (BABERGH, "officer@baberghmidsuffolk.gov.uk", SHARED_SERVICE),
    (MID_SUFFOLK, "officer@baberghmidsuffolk.gov.uk", SHARED_SERVICE),
    (LEEDS, "officer@baberghmidsuffolk.gov.uk", UNVERIFIED),  # shared by others, not Leeds
])
def test_an_address_is_the_councils_own_a_shared_services_or_to_be_checked(
        council, gss, address, status):
    assert status_for(council[gss], address) == status


def test_a_profile_takes_part_once_confirmed_and_shares_once_on_its_own_domain(sessions):
    with transaction(sessions) as session:
        own, _ = create_profile(session, council_fields(LEEDS, {"waste": 5},
                                                        contact_email="sam@leeds.gov.uk"))
        other, _ = create_profile(session, council_fields(LEEDS, {"waste": 5},
                                                          contact_email="sam@dudley.gov.uk"))
        assert (own.address_status, other.address_status) == (COUNCIL_DOMAIN, UNVERIFIED)
        assert not is_candidate(own) and not may_share_contact(own)
        confirm_address(session, "sam@leeds.gov.uk")
        confirm_address(session, "sam@dudley.gov.uk")
        assert is_candidate(own) and may_share_contact(own)
        assert is_candidate(other) and not may_share_contact(other)
        other.address_status = VERIFIED
        assert may_share_contact(other)


def test_loading_the_register_again_rechecks_unverified_addresses_only(sessions, reference_dir):
    with transaction(sessions) as session:
        leeds = session.get(Council, LEEDS)
        domains = leeds.web_domains
        leeds.web_domains = []  # as after the migration, before the register is loaded again
        waiting, _ = create_profile(session, council_fields(LEEDS, {"waste": 5},
                                                            contact_email="sam@leeds.gov.uk"))
        decided, _ = create_profile(session, council_fields(LEEDS, {"waste": 5},
                                                            contact_email="kim@leeds.gov.uk"))
        decided.address_status = "rejected"  # a person's decision is never undone by data
        assert waiting.address_status == UNVERIFIED
    with transaction(sessions) as session:
        load_register(session, reference_dir)
    with sessions() as session:
        statuses = dict(session.execute(select(Profile.id, Profile.address_status)).all())
        assert session.get(Council, LEEDS).web_domains == domains
    assert statuses == {waiting.id: COUNCIL_DOMAIN, decided.id: "rejected"}
