"""Erasing a profile beyond its own rows: its emails, its place in others' recommendations, its
events and stored replays. The API's DELETE is tested in tests/services/api/test_erasure.py."""

from __future__ import annotations

from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    AuditEntry,
    DeadLetter,
    EmailDelivery,
    Feedback,
    IdempotencyKey,
    MatchRun,
    OutboxEvent,
)
from partnermatch.shared.profiles.erasure import (
    ERASED,
    forget_as_partner,
    forget_emails,
    forget_events_and_replays,
)
from partnermatch.shared.reference.records import NeedMatches
from tests.shared.examples import BRADFORD, council, partner, recommend, supplier


def email(profile, purpose: str, status: str) -> EmailDelivery:
    return EmailDelivery(dedupe_key=f"{purpose}:{profile.id}", purpose=purpose,
                         profile_id=profile.id, to_address=profile.contact_email,
                         message_id=f"<{purpose}@pm>", status=status,
                         last_error="451 try later" if status != "sent" else None)


def test_unsent_emails_go_and_sent_ones_keep_only_their_id_and_status(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        sent = email(leeds, "confirmation", "sent")
        unsent = email(leeds, "recommendations", "failed")
        session.add_all([sent, unsent])
        session.flush()
        session.add(DeadLetter(task_name="partnermatch.send_email", task_key=f"email:{unsent.id}",
                               task_args=[unsent.id], error="451", attempts=8))
        forget_emails(session, leeds.id)
        sent_id, unsent_id = sent.id, unsent.id
    with sessions() as session:
        assert session.get(EmailDelivery, unsent_id) is None
        assert session.scalars(select(DeadLetter)).all() == []
        kept = session.get(EmailDelivery, sent_id)
        assert (kept.status, kept.profile_id, kept.to_address, kept.last_error) == (
            "sent", None, None, None)
        assert kept.dedupe_key == f"{ERASED}:{sent_id}"


def test_others_stop_being_recommended_the_erased_partner_and_keep_the_rest(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        bradford = council(session, BRADFORD, "jo.lead@bradford.gov.uk", {"childrens_services": 5})
        care = supplier(session)
        run = recommend(session, leeds, NeedMatches("childrens_services", 1, (
            partner(bradford, "Bradford", 5, 0.81), partner(care, "Example Care Ltd", 4, 0.64))))
        run.refreshed_by = bradford.id
        session.add(Feedback(match_run_id=run.id, partner_profile_id=bradford.id, useful=True))
        session.add(AuditEntry(actor="alex", action="address.verified", target=bradford.id))
        session.flush()
        forget_as_partner(session, bradford.id)
        run_id, care_id = run.id, care.id
    with sessions() as session:
        partners = [r.partner_profile_id for r in session.get(MatchRun, run_id).recommendations]
        assert partners == [care_id]
        assert session.get(MatchRun, run_id).refreshed_by is None
        assert session.scalars(select(Feedback.partner_profile_id)).all() == [None]
        assert session.scalars(select(AuditEntry.target)).all() == [ERASED]


def test_its_events_and_stored_replays_go_and_nobody_elses(sessions):
    with transaction(sessions) as session:
        leeds = council(session)
        bradford = council(session, BRADFORD, "jo.lead@bradford.gov.uk")
        session.add_all([
            IdempotencyKey(key="leeds-first-try", request_hash="h", profile_id=leeds.id),
            IdempotencyKey(key="bradford-first-try", request_hash="h", profile_id=bradford.id)])
        session.flush()
        forget_events_and_replays(session, leeds.id)
        bradford_id = bradford.id
    with sessions() as session:
        assert session.scalars(select(OutboxEvent.profile_id)).all() == [bradford_id]
        assert session.scalars(select(IdempotencyKey.key)).all() == ["bradford-first-try"]
