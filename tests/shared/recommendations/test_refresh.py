"""Freshness: a strong newcomer re-ranks the councils it would help; they hear of it once a day.

Runs on SQLite and PostgreSQL with the real index, the real match and the real email composer.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from partnermatch.shared.db.engine import make_read_sessionmaker, transaction
from partnermatch.shared.db.models import (
    ContactAddress,
    EmailDelivery,
    MatchRun,
    OutboxEvent,
    Profile,
    utcnow,
)
from partnermatch.shared.notifications import owed as notifications
from partnermatch.shared.notifications.delivery import MailSettings
from partnermatch.shared.notifications.owed import unsubscribe
from partnermatch.shared.operations.repair import approve_supplier
from partnermatch.shared.outbox.events import REFRESH_TOPIC, work_for_event
from partnermatch.shared.outbox.names import TaskName
from partnermatch.shared.profiles.store import create_profile, update_profile
from partnermatch.shared.recommendations import refresh as freshness
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.consume import match_event, match_locked
from partnermatch.shared.recommendations.emails import compose
from partnermatch.shared.recommendations.live_index import SYNC_OVERLAP, CandidateIndex
from tests.shared.recommendations.test_live_index import council_fields

LEEDS, MANCHESTER, BRADFORD, WIGAN = "E08000035", "E08000003", "E08000032", "E08000010"
MAIL = MailSettings(secret_key="k" * 32, public_base_url="https://pm.example.gov.uk",
                    mail_from="partnermatch@pm.example.gov.uk")


@pytest.fixture
def run_pass(engine, sessions, index):
    """Run one refresh pass for an event as the worker does: read, then write briefly."""
    reads = make_read_sessionmaker(engine)
    return lambda event_id, budget=60.0: freshness.refresh_partners(
        sessions, reads, index, event_id, budget)


@pytest.fixture
def index(sessions):
    with sessions() as session:
        return CandidateIndex(session)


def submit(sessions, index, fields, confirmed=True) -> str:
    """Store a profile and consume its submitted event as the worker does; return its id."""
    with transaction(sessions) as session:
        profile, _ = create_profile(session, fields)
        if confirmed:
            confirm_address(session, fields["contact_email"])
        session.flush()
        event_id = session.scalar(select(OutboxEvent.id).where(
            OutboxEvent.profile_id == profile.id, OutboxEvent.topic == "profile.submitted"))
        profile_id = profile.id
    with transaction(sessions) as session:
        assert match_event(session, index, event_id).status == "matched"
    return profile_id


def refresh_events(session, profile_id=None, consumed=False):
    query = select(OutboxEvent).where(OutboxEvent.topic == REFRESH_TOPIC)
    if profile_id:
        query = query.where(OutboxEvent.profile_id == profile_id)
    query = query.where(OutboxEvent.consumed_at.isnot(None) if consumed
                        else OutboxEvent.consumed_at.is_(None))
    return list(session.scalars(query))


@pytest.fixture
def refresh(sessions, run_pass):
    """Run the pass for the one refresh event a profile owes."""
    def run(profile_id):
        with sessions() as session:
            (event,) = refresh_events(session, profile_id)
        return run_pass(event.id)
    return run


def top(session, profile_id, area, n=freshness.TOP):
    run = session.scalar(select(MatchRun).where(MatchRun.profile_id == profile_id))
    return [r.partner_profile_id for r in run.recommendations
            if r.service_area == area and r.rank <= n]


def new_partner_emails(session, profile_id):
    return list(session.scalars(select(EmailDelivery).where(
        EmailDelivery.profile_id == profile_id, EmailDelivery.purpose == "new_partner")))


def leeds(**overrides):
    return council_fields(LEEDS, {"waste": 1, "highways_transport": 4},
                          contact_email="leeds@leeds.gov.uk", **overrides)


def manchester(**overrides):
    return council_fields(MANCHESTER, {"waste": 5}, contact_email="m@manchester.gov.uk",
                          **overrides)


def test_a_strong_newcomer_enters_the_tops_of_the_councils_it_helps_and_they_hear_once(
        sessions, index, refresh):
    asker = submit(sessions, index, leeds())
    with sessions() as session:
        run_before = session.scalar(select(MatchRun).where(MatchRun.profile_id == asker))
        assert top(session, asker, "waste") == []
    helper = submit(sessions, index, manchester())

    outcome = refresh(helper)

    assert outcome.refreshed == [asker]
    with sessions() as session:
        run = session.scalar(select(MatchRun).where(MatchRun.profile_id == asker))
        assert run.id == run_before.id  # refreshed in place: links in earlier emails still work
        assert run.refreshed_by == helper and run.checked_at is not None
        assert top(session, asker, "waste") == [helper]
        (email,) = new_partner_emails(session, asker)
        assert email.id in outcome.delivery_ids and email.match_run_id == run.id
        assert email.to_address == "leeds@leeds.gov.uk"


def test_the_new_partner_email_names_the_newcomer_and_the_area(sessions, index, refresh):
    asker = submit(sessions, index, leeds())
    refresh(submit(sessions, index, manchester()))
    with transaction(sessions) as session:
        (delivery,) = new_partner_emails(session, asker)
        message = compose(session, delivery, MAIL)
    text = message.get_body(("plain",)).get_content()
    assert message["Subject"] == "New partner recommendations for Leeds"
    assert "Manchester has joined partnermatch and is strong where Leeds asked for support " \
           "(Waste)" in text
    assert "at most once a day" in text
    assert message["List-Unsubscribe"]


def test_a_newcomer_weak_everywhere_owes_no_refresh(sessions, index):
    submit(sessions, index, leeds())
    middling = submit(sessions, index, council_fields(
        MANCHESTER, {"waste": 3}, contact_email="m@manchester.gov.uk"))
    with sessions() as session:
        assert refresh_events(session, middling) == []


def test_a_newcomer_without_capacity_to_help_owes_no_refresh(sessions, index):
    submit(sessions, index, leeds())
    busy = submit(sessions, index, manchester(capacity_to_support="none"))
    with sessions() as session:
        assert refresh_events(session, busy) == []


def test_councils_not_struggling_where_the_newcomer_is_strong_are_not_reranked(
        sessions, index, refresh):
    fine = submit(sessions, index, council_fields(
        LEEDS, {"waste": 3, "highways_transport": 1}, contact_email="leeds@leeds.gov.uk"))
    outcome = refresh(submit(sessions, index, manchester()))
    assert outcome.examined == 0 and outcome.refreshed == []
    with sessions() as session:
        assert new_partner_emails(session, fine) == []


def test_a_council_seeking_only_suppliers_is_not_sent_a_council(sessions, index, refresh):
    asker = submit(sessions, index, leeds(seeking=["supplier"]))
    outcome = refresh(submit(sessions, index, manchester()))
    assert asker not in outcome.refreshed and outcome.examined == 0


def test_a_council_is_not_refreshed_by_another_profile_of_its_own(sessions, index, refresh):
    submit(sessions, index, leeds())
    own = submit(sessions, index, council_fields(
        LEEDS, {"waste": 5}, contact_email="other@leeds.gov.uk"))
    outcome = refresh(own)
    assert outcome.examined == 0


def test_a_newcomer_already_in_the_top_changes_nothing(sessions, index, run_pass):
    helper = submit(sessions, index, manchester())
    asker = submit(sessions, index, leeds())  # matched after the helper: it is already top
    with sessions() as session:
        assert top(session, asker, "waste") == [helper]
    with transaction(sessions) as session:  # the helper updates its profile, still strong
        update_profile(session, session.get(Profile, helper),
                       manchester(strengths_text="Weekly collections, high recycling"))
        event_id = session.scalar(select(OutboxEvent.id).where(
            OutboxEvent.profile_id == helper, OutboxEvent.topic == "profile.updated"))
    with transaction(sessions) as session:
        match_event(session, index, event_id)
    with sessions() as session:
        (event,) = [e for e in refresh_events(session, helper) if e.profile_version == 2]
    outcome = run_pass(event.id)
    assert outcome.examined == 1 and outcome.refreshed == []
    with sessions() as session:
        assert new_partner_emails(session, asker) == []


def test_opt_out_and_unconfirmed_addresses_get_refreshed_results_but_no_email(
        sessions, index, refresh):
    left = submit(sessions, index, leeds())
    unconfirmed = submit(sessions, index, council_fields(
        BRADFORD, {"waste": 1}, contact_email="b@bradford.gov.uk"), confirmed=False)
    with transaction(sessions) as session:
        unsubscribe(session, "leeds@leeds.gov.uk")
    helper = submit(sessions, index, manchester())
    outcome = refresh(helper)
    assert sorted(outcome.refreshed) == sorted([left, unconfirmed])
    assert outcome.delivery_ids == []
    with sessions() as session:
        assert top(session, left, "waste")[0] == helper
        assert top(session, unconfirmed, "waste")[0] == helper


def test_demo_profiles_are_never_written_to(sessions, index, refresh):
    with transaction(sessions) as session:
        profile, _ = create_profile(session, leeds(), demo=True)
        event_id = session.scalar(select(OutboxEvent.id).where(
            OutboxEvent.profile_id == profile.id))
    with transaction(sessions) as session:
        match_event(session, index, event_id)
    outcome = refresh(submit(sessions, index, manchester()))
    assert outcome.refreshed == [profile.id] and outcome.delivery_ids == []


def test_at_most_one_new_partner_email_per_council_per_day(sessions, index, monkeypatch, refresh):
    asker = submit(sessions, index, council_fields(
        LEEDS, {"waste": 1, "highways_transport": 1}, contact_email="leeds@leeds.gov.uk"))
    first = refresh(submit(sessions, index, manchester()))
    assert first.delivery_ids
    second = refresh(submit(sessions, index, council_fields(
        BRADFORD, {"highways_transport": 5}, contact_email="b@bradford.gov.uk")))
    assert second.refreshed == [asker] and second.delivery_ids == []  # same day: results only
    with sessions() as session:
        assert len(new_partner_emails(session, asker)) == 1
    tomorrow = utcnow() + timedelta(days=1)
    monkeypatch.setattr(notifications, "utcnow", lambda: tomorrow)
    third = refresh(submit(sessions, index, council_fields(
        WIGAN, {"highways_transport": 5}, contact_email="w@wigan.gov.uk")))
    assert third.refreshed == [asker] and len(third.delivery_ids) == 1


def test_a_replayed_refresh_event_does_nothing_twice(sessions, index, run_pass):
    asker = submit(sessions, index, leeds())
    helper = submit(sessions, index, manchester())
    with sessions() as session:
        (event,) = refresh_events(session, helper)
        event_id = event.id
    assert run_pass(event_id).refreshed == [asker]
    assert run_pass(event_id).status == "already"
    with sessions() as session:
        assert len(new_partner_emails(session, asker)) == 1
        run = session.scalar(select(MatchRun).where(MatchRun.profile_id == asker))
        count = len(run.recommendations)
        assert count == 1  # replaced, not appended


def test_one_pass_takes_every_waiting_refresh_event(sessions, index, run_pass):
    asker = submit(sessions, index, council_fields(
        LEEDS, {"waste": 1, "highways_transport": 1}, contact_email="leeds@leeds.gov.uk"))
    waste = submit(sessions, index, manchester())
    roads = submit(sessions, index, council_fields(
        BRADFORD, {"highways_transport": 5}, contact_email="b@bradford.gov.uk"))
    with sessions() as session:
        first, second = (refresh_events(session, p)[0].id for p in (waste, roads))
    outcome = run_pass(first)
    assert outcome.refreshed == [asker] and outcome.examined == 1
    with sessions() as session:
        assert top(session, asker, "waste") == [waste]
        assert top(session, asker, "highways_transport") == [roads]
        assert refresh_events(session) == []
    assert run_pass(second).status == "already"


def test_a_newcomer_changed_before_the_refresh_is_skipped(sessions, index, refresh):
    asker = submit(sessions, index, council_fields(LEEDS, {"waste": 1},
                                                   contact_email="leeds@leeds.gov.uk"))
    helper = submit(sessions, index, manchester())
    with transaction(sessions) as session:
        update_profile(session, session.get(Profile, helper), council_fields(
            MANCHESTER, {"waste": 2}, contact_email="m@manchester.gov.uk"))
    outcome = refresh(helper)
    assert outcome.status == "not strong" and outcome.refreshed == []
    with sessions() as session:
        assert top(session, asker, "waste") == []


def test_approving_a_supplier_owes_a_refresh_and_the_relay_knows_its_task(
        sessions, index, refresh):
    submit(sessions, index, leeds())
    supplier_fields = {
        "kind": "supplier", "name": "Example Waste Ltd", "contact_name": "Jo Supplier",
        "contact_email": "jo@wasteco.co.uk", "ratings": {"waste": 5},
        "description": "Collections", "evidence_text": "Runs collections for councils",
        "regions_served": [], "capacity_to_support": "available", "share_contact": True,
    }
    supplier = submit(sessions, index, supplier_fields)
    with sessions() as session:
        assert refresh_events(session, supplier) == []  # not approved yet: not recommendable
    with transaction(sessions) as session:
        approve_supplier(session, session.get(Profile, supplier), "ops")
    with sessions() as session:
        (event,) = refresh_events(session, supplier)
        assert work_for_event(event).task == TaskName.REFRESH_PARTNERS
    outcome = refresh(supplier)
    assert outcome.delivery_ids


def test_a_pass_out_of_time_stops_and_the_next_carries_on_where_it_stopped(
        sessions, index, run_pass):
    askers = [submit(sessions, index, council_fields(gss, {"waste": 1}, contact_email=address))
              for gss, address in ((LEEDS, "leeds@leeds.gov.uk"), (BRADFORD, "b@bradford.gov.uk"),
                                   (WIGAN, "w@wigan.gov.uk"))]
    helper = submit(sessions, index, manchester())
    with sessions() as session:
        (event,) = refresh_events(session, helper)

    passes = [run_pass(event.id, budget=0.0) for _ in range(3)]  # one run a pass, never none

    assert [p.status for p in passes] == ["partial", "partial", "refreshed"]
    assert [p.refreshed for p in passes] == [[a] for a in askers]  # each once, in order
    with sessions() as session:
        assert refresh_events(session) == []  # consumed only by the pass that finished
        assert all(top(session, a, "waste") == [helper] for a in askers)
        assert all(len(new_partner_emails(session, a)) == 1 for a in askers)
    assert run_pass(event.id).status == "already"


def test_a_run_made_after_the_newcomer_arrived_is_not_reranked(sessions, index, refresh):
    helper = submit(sessions, index, manchester())
    asker = submit(sessions, index, leeds())  # its match already saw the helper
    outcome = refresh(helper)
    assert outcome.examined == 0 and outcome.status == "refreshed"
    with sessions() as session:
        assert top(session, asker, "waste") == [helper]


def test_a_run_ranked_with_the_newcomer_already_in_its_index_is_not_reranked(sessions, engine):
    """A returning officer's profile is a candidate from its submission, but owes its refresh event
    only at its own match, which a backlog delays: councils matched in between already saw it."""
    with sessions() as session:
        first_worker = CandidateIndex(session)
    before = submit(sessions, first_worker, leeds())  # matched a while before the helper came
    with transaction(sessions) as session:
        run = session.scalar(select(MatchRun).where(MatchRun.profile_id == before))
        run.generated_at = run.indexed_at = utcnow() - 3 * SYNC_OVERLAP
    with transaction(sessions) as session:  # its address was confirmed on an earlier visit
        session.add(ContactAddress(email="m@manchester.gov.uk", confirmed_at=utcnow()))
    with transaction(sessions) as session:
        helper, _ = create_profile(session, manchester())
        helper.updated_at = helper.created_at = utcnow() - SYNC_OVERLAP - timedelta(seconds=1)
        helper_id = helper.id
        helper_match = session.scalar(select(OutboxEvent.id).where(
            OutboxEvent.profile_id == helper.id, OutboxEvent.topic == "profile.submitted"))
    with sessions() as session:  # a worker that caught up after the helper was submitted
        later_worker = CandidateIndex(session)
    after = submit(sessions, later_worker, council_fields(
        BRADFORD, {"waste": 1}, contact_email="b@bradford.gov.uk"))
    with transaction(sessions) as session:  # the helper's own match, at last
        assert match_event(session, later_worker, helper_match).status == "matched"
    with sessions() as session:
        assert top(session, after, "waste") == [helper_id]  # its match saw the helper
        assert top(session, before, "waste") == []
        (event,) = refresh_events(session, helper_id)

    outcome = freshness.refresh_partners(sessions, make_read_sessionmaker(engine), later_worker,
                                         event.id, 60.0)

    assert outcome.examined == 1 and outcome.refreshed == [before]  # not `after` again
    with sessions() as session:
        assert top(session, before, "waste") == [helper_id]
        assert len(new_partner_emails(session, before)) == 1
        assert new_partner_emails(session, after) == []


def test_a_run_whose_index_caught_up_before_the_newcomer_committed_is_reranked(
        sessions, engine):
    """A batch catches its index up once, then matches its events one after another: a run
    made after a newcomer's event was written may still come from an index without it."""
    with transaction(sessions) as session:
        asker, _ = create_profile(session, leeds())
        confirm_address(session, "leeds@leeds.gov.uk")
        asker_id = asker.id
        asker_match = session.scalar(select(OutboxEvent.id).where(
            OutboxEvent.profile_id == asker.id, OutboxEvent.topic == "profile.submitted"))
    with sessions() as session:
        batch_worker = CandidateIndex(session)  # the batch's catch-up, before the helper exists
    with sessions() as session:
        other_worker = CandidateIndex(session)
    helper = submit(sessions, other_worker, manchester())  # another worker's batch commits
    with transaction(sessions) as session:  # the first batch reaches the asker's event
        event = session.get(OutboxEvent, asker_match, with_for_update=True)
        assert match_locked(session, batch_worker, event, catch_up=False).status == "matched"
    with sessions() as session:
        assert top(session, asker_id, "waste") == []
        (refresh_event,) = refresh_events(session, helper)

    outcome = freshness.refresh_partners(sessions, make_read_sessionmaker(engine), batch_worker,
                                         refresh_event.id, 60.0)

    assert outcome.refreshed == [asker_id]
    with sessions() as session:
        assert top(session, asker_id, "waste") == [helper]
        assert len(new_partner_emails(session, asker_id)) == 1
