"""Repairing stuck work from /ops: each repair puts the work back as it was, and is audited."""

from __future__ import annotations

from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    AuditEntry,
    DeadLetter,
    EmailDelivery,
    MatchRun,
    OutboxEvent,
    Profile,
    TaskAttempt,
    utcnow,
)
from partnermatch.shared.operations.repair import (
    approve_supplier,
    discard_dead_letter,
    replay_dead_letter,
    review_address,
)
from partnermatch.shared.outbox.events import REFRESH_TOPIC
from tests.shared.examples import council, supplier


def audit_log(session) -> list[tuple]:
    return session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target,
                                  AuditEntry.detail).order_by(AuditEntry.id)).all()


def test_a_failed_email_replayed_is_owed_again_from_its_first_attempt(sessions):
    with transaction(sessions) as session:
        delivery = EmailDelivery(dedupe_key="recommendations:1", purpose="recommendations",
                                 to_address="sam.officer@leeds.gov.uk", message_id="<m1@pm>",
                                 status="failed", attempts=8, published_at=utcnow())
        session.add(delivery)
        session.flush()
        key = f"email:{delivery.id}"
        session.add(TaskAttempt(task_key=key, attempts=8))
        letter = DeadLetter(task_name="partnermatch.send_email", task_key=key,
                            task_args=[delivery.id], error="550 mailbox full", attempts=8)
        session.add(letter)
        session.flush()
        delivery_id, letter_id = delivery.id, letter.id
    with transaction(sessions) as session:
        replay_dead_letter(session, session.get(DeadLetter, letter_id), "alex")
    with sessions() as session:
        delivery = session.get(EmailDelivery, delivery_id)
        assert (delivery.status, delivery.attempts, delivery.published_at) == ("pending", 0, None)
        assert session.get(TaskAttempt, key) is None
        letter = session.get(DeadLetter, letter_id)
        assert letter.resolution == "retried" and letter.resolved_at is not None
        assert audit_log(session) == [
            ("alex", "dead_letter.retried", letter_id, "partnermatch.send_email")]


def test_a_sent_email_is_not_sent_again_by_a_replay(sessions):
    with transaction(sessions) as session:
        delivery = EmailDelivery(dedupe_key="recommendations:2", purpose="recommendations",
                                 to_address="sam.officer@leeds.gov.uk", message_id="<m2@pm>",
                                 status="sent", attempts=1)
        session.add(delivery)
        session.flush()
        letter = DeadLetter(task_name="partnermatch.send_email", task_key=f"email:{delivery.id}",
                            task_args=[delivery.id], error="late", attempts=1)
        session.add(letter)
        session.flush()
        delivery_id, letter_id = delivery.id, letter.id
    with transaction(sessions) as session:
        replay_dead_letter(session, session.get(DeadLetter, letter_id), "alex")
    with sessions() as session:
        assert session.get(EmailDelivery, delivery_id).status == "sent"
        assert session.get(DeadLetter, letter_id).resolution == "retried"


def test_a_failed_match_replayed_drops_the_failed_run_and_publishes_the_event_again(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        event = session.scalar(select(OutboxEvent).where(OutboxEvent.profile_id == leeds.id))
        event.published_at = event.consumed_at = utcnow()
        session.add(MatchRun(profile_id=leeds.id, profile_version=1, status="failed",
                             model_version="test", event_id=event.id))
        letter = DeadLetter(task_name="partnermatch.match_profile", task_key=f"match:{event.id}",
                            task_args=[event.id], error="killed", attempts=3)
        session.add(letter)
        session.flush()
        event_id, letter_id, leeds_id = event.id, letter.id, leeds.id
    with transaction(sessions) as session:
        replay_dead_letter(session, session.get(DeadLetter, letter_id), "alex")
    with sessions() as session:
        event = session.get(OutboxEvent, event_id)
        assert event.consumed_at is None and event.published_at is None  # the relay sends it
        assert session.scalars(select(MatchRun).where(MatchRun.profile_id == leeds_id)).all() == []


def test_a_discarded_dead_letter_is_resolved_and_its_work_left_undone(sessions):
    with transaction(sessions) as session:
        letter = DeadLetter(task_name="partnermatch.send_email", task_key="email:gone",
                            task_args=["gone"], error="550", attempts=8)
        session.add(letter)
        session.flush()
        letter_id = letter.id
    with transaction(sessions) as session:
        discard_dead_letter(session, session.get(DeadLetter, letter_id), "alex")
    with sessions() as session:
        assert session.get(DeadLetter, letter_id).resolution == "discarded"
        assert audit_log(session) == [
            ("alex", "dead_letter.discarded", letter_id, "partnermatch.send_email")]


def test_an_approved_supplier_strong_somewhere_owes_councils_a_refresh(sessions):
    with transaction(sessions) as session:
        care = supplier(session)
        care.approved, care.contact_confirmed = False, True  # waiting for ops, address confirmed
        session.flush()
        approve_supplier(session, care, "alex")
        care_id = care.id
    with sessions() as session:
        assert session.get(Profile, care_id).approved
        assert audit_log(session) == [("alex", "supplier.approved", care_id, None)]
        assert session.scalar(select(OutboxEvent.topic).where(
            OutboxEvent.profile_id == care_id, OutboxEvent.topic == REFRESH_TOPIC)) is not None


def test_an_unverified_council_address_is_verified_or_rejected_once(sessions):
    with transaction(sessions) as session:
        first = council(session, email="sam.officer@gmail.com")
        second = council(session, email="jo.lead@gmail.com")
        assert first.address_status == second.address_status == "unverified"
        assert review_address(session, first, verified=True, actor="alex")
        assert review_address(session, second, verified=False, actor="alex")
        assert not review_address(session, first, verified=False, actor="alex")  # decided
        ids = first.id, second.id
    with sessions() as session:
        assert [session.get(Profile, i).address_status for i in ids] == ["verified", "rejected"]
        assert audit_log(session) == [  # the domain, never the whole address
            ("alex", "address.verified", ids[0], "E08000035 gmail.com"),
            ("alex", "address.rejected", ids[1], "E08000035 gmail.com")]


def test_an_address_on_the_councils_own_domain_needs_no_review(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        assert leeds.address_status == "council_domain"
        assert not review_address(session, leeds, verified=False, actor="alex")
        assert leeds.address_status == "council_domain"
