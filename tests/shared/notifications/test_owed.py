"""Which emails are owed, when a confirmation and a match of the same profile race."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import ContactAddress, EmailDelivery, Profile
from partnermatch.shared.notifications.owed import owe_recommendations
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.consume import store_run

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
