"""Demo profiles seeded from public data, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Council, OutboxEvent, Profile, ProfileVersion
from partnermatch.shared.notifications.owed import is_example_address
from partnermatch.shared.profiles.demo import (
    OFSTED_RATINGS,
    SUPPLIERS,
    UPPER_TIER_TYPES,
    demo_id,
    seed_demo,
)
from partnermatch.shared.profiles.schemas import MAX_TEXT, ProfileSchema
from partnermatch.shared.reference.register import ofsted_history
from partnermatch.shared.reference.taxonomy import areas_delivered_by

DATA_BACKED_AREAS = {"childrens_services", "adult_social_care", "education_send"}


@pytest.fixture
def seeded(sessions) -> Iterator[Session]:
    """A session on a database where the demo profiles have just been seeded."""
    with transaction(sessions) as session:
        seed_demo(session)
    with sessions() as session:
        yield session


def _councils(session: Session) -> list[Profile]:
    return list(session.scalars(select(Profile).where(Profile.kind == "council")))


def _suppliers(session: Session) -> list[Profile]:
    return list(session.scalars(select(Profile).where(Profile.kind == "supplier")))


def _count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_seeding_creates_one_profile_per_english_upper_tier_council(seeded):
    upper_tier = set(
        seeded.scalars(
            select(Council.gss_code).where(
                Council.nation == "England", Council.council_type.in_(UPPER_TIER_TYPES)
            )
        )
    )
    profiles = _councils(seeded)
    assert len(upper_tier) == 153
    assert len(profiles) == len(upper_tier)
    assert {p.gss_code for p in profiles} == upper_tier
    assert all(p.demo and p.approved for p in profiles)


def test_seeding_twice_creates_no_duplicates_and_changes_nothing(sessions):
    with transaction(sessions) as session:
        first = seed_demo(session)
    with transaction(sessions) as session:
        second = seed_demo(session)
        profiles = _count(session, Profile)
        versions = _count(session, ProfileVersion)
    assert first == profiles == 153 + len(SUPPLIERS)
    assert second == 0
    assert versions == profiles


def test_reseeding_a_changed_profile_gives_it_a_new_version(sessions):
    profile_id = demo_id("supplier:" + SUPPLIERS[0].slug)
    with transaction(sessions) as session:
        seed_demo(session)
    with transaction(sessions) as session:
        profile = session.get(Profile, profile_id)
        profile.fields = {**profile.fields, "description": "edited by hand"}
        stamped = profile.updated_at
    with transaction(sessions) as session:
        changed = seed_demo(session)
        profile = session.get(Profile, profile_id)
        versions = session.scalars(
            select(ProfileVersion.version).where(ProfileVersion.profile_id == profile_id)
        ).all()
    assert changed == 1
    assert profile.version == 2
    assert sorted(versions) == [1, 2]
    assert profile.fields["description"].startswith("Fictional")
    assert profile.updated_at > stamped


def _latest_grade(council: Council) -> str | None:
    graded = [j for j in ofsted_history(council) if j.overall in OFSTED_RATINGS]
    return graded[0].overall if graded else None


def test_a_council_rated_outstanding_by_ofsted_is_strong_in_childrens_services(seeded):
    outstanding = [p for p in _councils(seeded) if _latest_grade(p.council) == "outstanding"]
    assert outstanding
    for profile in outstanding:
        assert profile.fields["ratings"]["childrens_services"] == 5
        assert "Rated outstanding by Ofsted (" in profile.fields["strengths_text"]
        assert "capacity_to_support" not in profile.fields  # the council never said


def test_a_council_rated_inadequate_by_ofsted_says_so_in_its_needs(seeded):
    inadequate = [p for p in _councils(seeded) if _latest_grade(p.council) == "inadequate"]
    assert inadequate
    for profile in inadequate:
        assert profile.fields["ratings"]["childrens_services"] == 1
        assert "Rated inadequate by Ofsted (" in profile.fields["needs_text"]


def test_no_demo_profile_rates_an_area_its_council_type_does_not_deliver(seeded):
    for profile in _councils(seeded):
        rated = set(profile.fields["ratings"])
        assert rated
        assert rated <= areas_delivered_by(profile.council.council_type)
        assert rated <= DATA_BACKED_AREAS


def test_adult_social_care_and_send_ratings_are_national_quintiles(seeded):
    for area in ("adult_social_care", "education_send"):
        ratings = Counter(p.fields["ratings"].get(area) for p in _councils(seeded))
        rated = sum(n for rating, n in ratings.items() if rating is not None)
        assert rated >= 145
        for rating in range(1, 6):
            assert abs(ratings[rating] - rated / 5) <= 2, (area, ratings)


def test_texts_state_checkable_quartiles(seeded):
    texts = "\n".join(
        p.fields["needs_text"] + "\n" + p.fields["strengths_text"] for p in _councils(seeded)
    )
    assert "Care leavers in suitable accommodation: bottom quartile nationally" in texts
    assert "Carer-reported quality of life (adult social care): top quartile nationally" in texts
    assert "Re-referrals to children's social care within 12 months: highest quartile" in texts


def test_a_demo_council_claims_nothing_only_it_could_say(seeded):
    for profile in _councils(seeded):
        assert "capacity_to_support" not in profile.fields
        assert profile.fields["share_contact"] is False


def test_demo_profiles_are_valid_submissions(seeded):
    for profile in seeded.scalars(select(Profile)):
        document = {"kind": profile.kind, **profile.fields}
        if profile.kind == "council":
            document["gss_code"] = profile.gss_code
        assert ProfileSchema().load(document)
        assert all(len(profile.fields.get(f, "")) <= MAX_TEXT for f in ("needs_text",
                                                                          "strengths_text"))


def test_demo_contacts_are_example_addresses_never_shared(seeded):
    for profile in seeded.scalars(select(Profile)):
        assert profile.contact_email.endswith("@example.invalid")
        assert profile.contact_email.startswith("demo+")
        assert profile.contact_email == profile.fields["contact_email"]
        assert is_example_address(profile.contact_email)
        assert profile.fields["share_contact"] is False


def test_seeding_writes_no_outbox_events(seeded):
    assert _count(seeded, OutboxEvent) == 0


def test_demo_suppliers_are_approved_and_plainly_fictional(seeded):
    suppliers = _suppliers(seeded)
    assert len(suppliers) == len(SUPPLIERS) >= 8
    for supplier in suppliers:
        fields = supplier.fields
        assert supplier.approved and supplier.demo and supplier.gss_code is None
        assert fields["name"].endswith("(demo)")
        assert fields["company_number"] is None
        assert "fictional" in fields["description"].lower()
        assert "fictional" in fields["evidence_text"].lower()
        assert fields["regions_served"]
    offered = {area for s in suppliers for area in s.fields["ratings"]}
    assert {"adult_social_care", "childrens_services", "highways_transport", "waste",
            "customer_digital"} <= offered
