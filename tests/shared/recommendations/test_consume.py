"""Consuming a profile event: the version it names is matched once, the run stored and the email
owed in the same transaction; a replayed, outdated or vanished event does nothing more."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import EmailDelivery, MatchRun, OutboxEvent, Profile, utcnow
from partnermatch.shared.outbox.attempts import _bump as bump
from partnermatch.shared.outbox.attempts import count_starts
from partnermatch.shared.outbox.names import match_key
from partnermatch.shared.profiles.store import update_profile
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.consume import (
    events_in_order,
    fail_event,
    finish_batch,
    lock_batch,
    lock_waiting_events,
    match_event,
    match_locked,
    read_batch,
)
from partnermatch.shared.recommendations.live_index import CandidateIndex
from tests.shared.examples import BRADFORD, council

SAM, JO = "sam.officer@leeds.gov.uk", "jo.lead@bradford.gov.uk"


@pytest.fixture
def index(sessions):
    with sessions() as session:
        return CandidateIndex(session)


@pytest.fixture
def leeds_submitted(sessions) -> tuple[str, str, str]:
    """Leeds (weak in children's services, address confirmed) has just submitted; Bradford,
    strong there, joined earlier. Returns the ids of Leeds, its event and Bradford."""
    with transaction(sessions) as session:
        bradford = council(session, BRADFORD, JO, {"childrens_services": 5})
        leeds = council(session)
        confirm_address(session, JO)
        confirm_address(session, SAM)
        event = session.scalar(select(OutboxEvent).where(OutboxEvent.profile_id == leeds.id))
        return leeds.id, event.id, bradford.id


def consume(sessions, index, event_id):
    with transaction(sessions) as session:
        return match_event(session, index, event_id)


def test_an_event_is_matched_stored_and_emailed_once(sessions, index, leeds_submitted):
    leeds_id, event_id, bradford_id = leeds_submitted
    first = consume(sessions, index, event_id)
    assert first.status == "matched" and bradford_id in first.partner_ids
    assert first.needs[0].service_area == "childrens_services" and first.delivery_id
    assert consume(sessions, index, event_id).status == "already"
    with sessions() as session:
        assert session.get(OutboxEvent, event_id).consumed_at is not None
        runs = session.scalars(select(MatchRun).where(MatchRun.profile_id == leeds_id)).all()
        assert [(run.id, run.status, run.event_id) for run in runs] == [
            (first.match_run_id, "ready", event_id)]
        assert session.scalars(select(EmailDelivery.to_address).where(
            EmailDelivery.purpose == "recommendations")).all() == [SAM]


def test_an_event_for_a_version_since_replaced_is_consumed_without_matching(
        sessions, index, leeds_submitted):
    leeds_id, event_id, _bradford = leeds_submitted
    with transaction(sessions) as session:
        leeds = session.get(Profile, leeds_id)
        update_profile(session, leeds, {**leeds.fields, "kind": "council",
                                        "gss_code": leeds.gss_code,
                                        "contact_email": leeds.contact_email})
    assert consume(sessions, index, event_id).status == "stale"
    assert consume(sessions, index, "no-such-event").status == "gone"
    with sessions() as session:
        assert session.scalars(select(MatchRun)).all() == []


def test_giving_up_on_an_event_says_the_match_failed_once(sessions, index, leeds_submitted):
    leeds_id, event_id, _bradford = leeds_submitted
    for _ in range(2):
        with transaction(sessions) as session:
            fail_event(session, event_id)
    assert consume(sessions, index, event_id).status == "already"  # consumed by giving up
    with sessions() as session:
        assert session.scalars(select(MatchRun.status).where(
            MatchRun.profile_id == leeds_id)).all() == ["failed"]


def test_waiting_events_taken_into_a_batch_are_the_untried_unconsumed_match_events(
        sessions, leeds_submitted):
    leeds_id, event_id, bradford_id = leeds_submitted
    with transaction(sessions) as session:
        [bradford_event] = session.scalars(select(OutboxEvent.id).where(
            OutboxEvent.profile_id == bradford_id,
            OutboxEvent.topic.in_(("profile.submitted", "profile.updated")))).all()
        tried = OutboxEvent(topic="profile.updated", profile_id=leeds_id, profile_version=1)
        consumed = OutboxEvent(topic="profile.updated", profile_id=leeds_id, profile_version=1,
                               consumed_at=utcnow())
        deletion = OutboxEvent(topic="profile.deleted", profile_id=leeds_id)
        session.add_all([tried, consumed, deletion])
        session.flush()
        bump(session, match_key(tried.id))
    with transaction(sessions) as session:
        waiting = lock_waiting_events(session, event_id, limit=16)
        assert [e.id for e in waiting] == [bradford_event]
        assert lock_waiting_events(session, event_id, limit=0) == []


def test_a_waiting_event_another_batch_holds_is_skipped(sessions, leeds_submitted):
    _leeds_id, event_id, bradford_id = leeds_submitted
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite's one write lock serialises batches")
    with transaction(sessions) as holder:
        held = lock_waiting_events(holder, event_id, limit=16)
        assert [e.profile_id for e in held] == [bradford_id]
        with transaction(sessions) as other:  # a concurrent batch: skips, does not wait
            assert lock_waiting_events(other, event_id, limit=16) == []


def test_a_batch_locks_its_own_event_first_then_the_waiting_ones(sessions, leeds_submitted):
    _leeds_id, event_id, bradford_id = leeds_submitted
    with transaction(sessions) as session:
        bump(session, match_key(event_id))  # its own task has started: tried, yet first
        batch = lock_batch(session, event_id, size=16)
        assert batch[0].id == event_id
        assert [e.profile_id for e in batch[1:]] == [bradford_id]
        assert [e.id for e in lock_batch(session, event_id, size=1)] == [event_id]


def test_events_a_batch_took_and_counted_are_no_other_batchs_once_committed(
        sessions, leeds_submitted):
    # SQLite takes a batch in one transaction and matches it in the next: in between, the counts
    # committed keep its events out of any other batch, and the batch loads them in its order
    _leeds_id, event_id, bradford_id = leeds_submitted
    with transaction(sessions) as session:
        bump(session, match_key(event_id))
        taken = [e.id for e in lock_batch(session, event_id, size=16)]
        count_starts(session, [match_key(id_) for id_ in taken[1:]])
    with transaction(sessions) as session:
        assert [e.id for e in lock_batch(session, "another-event", size=16)] == []
        assert [e.id for e in events_in_order(session, taken[::-1] + ["gone"])] == taken[::-1]
        assert [e.profile_id for e in events_in_order(session, taken[1:])] == [bradford_id]


def test_a_batch_whose_event_another_transaction_holds_takes_the_waiting_ones(
    sessions, leeds_submitted
):
    _leeds_id, event_id, bradford_id = leeds_submitted
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite's one write lock serialises batches")
    with transaction(sessions) as holder:
        holder.get(OutboxEvent, event_id, with_for_update=True)
        with transaction(sessions) as other:  # does not wait for the event: takes the others
            assert [e.profile_id for e in lock_batch(other, event_id, size=16)] == [bradford_id]


def test_a_batch_read_at_once_stores_each_run_and_owes_each_email(sessions, index,
                                                                   leeds_submitted):
    leeds_id, event_id, bradford_id = leeds_submitted
    with transaction(sessions) as session:
        events = lock_batch(session, event_id, size=16)
        index.refresh(session)
        reads = read_batch(session, events)
        outcomes = [match_locked(session, index, event, catch_up=False, reads=reads)
                    for event in events]
        finish_batch(session, reads)
    assert [o.status for o in outcomes] == ["matched", "matched"]
    assert bradford_id in outcomes[0].partner_ids
    with sessions() as session:
        runs = {run.profile_id: run for run in session.scalars(select(MatchRun))}
        assert set(runs) == {leeds_id, bradford_id}
        assert runs[leeds_id].needs[0].service_area == "childrens_services"
        owed = session.scalars(select(EmailDelivery.profile_id)
                               .where(EmailDelivery.purpose == "recommendations")).all()
        assert sorted(owed) == sorted([leeds_id, bradford_id])
        assert all(session.get(OutboxEvent, e.id).consumed_at for e in events)
    with transaction(sessions) as session:  # matched already: the event's task does nothing
        assert match_event(session, index, event_id).status == "already"
