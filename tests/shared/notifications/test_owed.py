"""Which emails are owed: a confirmation first (within the daily caps), recommendations only to
a confirmed address and once per run, links at most once an hour; and when a confirmation and a
match of the same profile race, the email is still owed."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import ContactAddress, EmailDelivery, LinkRequest, Profile
from partnermatch.shared.notifications.owed import (
    ConfirmationLimitReached,
    ConfirmationPolicy,
    answer_link_request,
    is_example_address,
    is_reachable,
    owe_confirmation,
    owe_recommendations,
    request_profile_links,
    unsubscribe,
)
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.consume import store_run
from tests.shared.examples import council

ADDRESS = "pat@example-care.co.uk"


def supplier(session) -> str:
    profile, _token = create_profile(session, {
        "kind": "supplier", "name": "Example Care Ltd", "contact_name": "Pat",
        "contact_email": ADDRESS, "ratings": {"adult_social_care": 5},
        "regions_served": ["North West"], "evidence_text": "CQC outstanding",
    })
    session.add(ContactAddress(email=ADDRESS))  # not confirmed yet
    return profile.id


def blocked_or_done(engine, thread: threading.Thread) -> bool:
    """Whether the thread has finished or another backend waits for a lock."""
    with engine.connect() as connection:
        waiting = connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")).scalar()
    return not thread.is_alive() or waiting > 0


def test_a_confirmation_committed_while_the_match_is_stored_still_owes_the_email(
        engine, sessions):
    """Read committed: the match read the address unconfirmed, the confirmation read no run yet,
    and neither owed the recommendations; the email was lost. The match now locks the address."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite writers take the database's one write lock at BEGIN: no race")
    with transaction(sessions) as session:
        profile_id = supplier(session)
    match = sessions()
    match.begin()
    profile = match.get(Profile, profile_id)
    run = store_run(match, profile, [], None)
    assert owe_recommendations(match, profile, run, new_run=True) is None  # not confirmed

    def confirm() -> None:
        with transaction(sessions) as session:
            confirm_address(session, ADDRESS)

    thread = threading.Thread(target=confirm)
    thread.start()
    while not blocked_or_done(engine, thread):
        thread.join(0.05)
    match.commit()
    match.close()
    thread.join()
    with sessions() as session:
        owed = session.scalar(select(func.count()).select_from(EmailDelivery).where(
            EmailDelivery.purpose == "recommendations"))
    assert owed == 1


POLICY = ConfirmationPolicy(required=True, secret_key="k" * 32)
SAM = "sam.officer@leeds.gov.uk"


def owed(session, purpose: str) -> list[str]:
    return session.scalars(select(EmailDelivery.to_address)
                           .where(EmailDelivery.purpose == purpose)).all()


def test_a_new_address_is_sent_one_confirmation(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        assert owe_confirmation(session, leeds, POLICY) is not None
        assert owe_confirmation(session, leeds, POLICY) is None  # owed already
        assert owed(session, "confirmation") == [SAM] and not leeds.contact_confirmed


def test_without_confirmation_required_an_address_counts_as_confirmed(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        policy = ConfirmationPolicy(required=False, secret_key="k" * 32)
        assert owe_confirmation(session, leeds, policy) is None
        assert leeds.contact_confirmed and owed(session, "confirmation") == []


def test_documentation_and_demo_addresses_are_never_written_to():
    assert is_example_address("sam@example.com") and is_example_address("pat@care.test")
    assert is_example_address("jo@leeds.invalid") and is_example_address("x@EXAMPLE.ORG")
    assert not is_example_address(SAM) and not is_example_address("pat@example-care.co.uk")


def test_a_profile_changing_its_address_again_and_again_is_stopped_for_the_day(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        for n in range(POLICY.per_profile):
            leeds.contact_email = f"officer{n}@leeds.gov.uk"
            assert owe_confirmation(session, leeds, POLICY) is not None
        leeds.contact_email = "one.more@leeds.gov.uk"
        with pytest.raises(ConfirmationLimitReached):
            owe_confirmation(session, leeds, POLICY)


def test_one_address_named_by_many_profiles_is_sent_only_so_many_confirmations(sessions):
    with transaction(sessions) as session:
        sent = [owe_confirmation(session, council(session), POLICY)
                for _ in range(POLICY.per_address + 1)]
        assert [delivery is not None for delivery in sent] == [True, True, True, False]


def test_recommendations_wait_for_the_address_to_be_confirmed_and_are_owed_once(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        run = store_run(session, leeds, [], None)
        assert owe_recommendations(session, leeds, run, new_run=True) is None  # not confirmed
        assert [d.to_address for d in confirm_address(session, SAM)] == [SAM]
        assert owe_recommendations(session, leeds, run) is None  # confirming owed it
        assert owed(session, "recommendations") == [SAM]


def test_unsubscribing_cancels_what_was_not_sent_and_stops_what_was_not_asked_for(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        confirm_address(session, SAM)
        run = store_run(session, leeds, [], None)
        delivery = owe_recommendations(session, leeds, run, new_run=True)
        assert is_reachable(session, leeds)
        unsubscribe(session, SAM)
        session.refresh(delivery)
        assert delivery.status == "cancelled" and not is_reachable(session, leeds)


def test_a_link_request_is_answered_once_by_what_the_address_is_due(sessions):
    with transaction(sessions) as session:
        council(session)
        unknown = request_profile_links(session, "nobody@leeds.gov.uk")
        first, second = request_profile_links(session, SAM), request_profile_links(session, SAM)
        session.flush()
        assert answer_link_request(session, unknown.id, POLICY) is None
        again = answer_link_request(session, first.id, POLICY)
        assert again.purpose == "confirmation"  # unconfirmed: only its confirmation again
        confirm_address(session, SAM)
        assert answer_link_request(session, second.id, POLICY).purpose == "link"
        assert answer_link_request(session, second.id, POLICY) is None  # answered already
        assert session.scalars(select(LinkRequest)).all() == []
