"""Form drafts: submitted exactly once, emptied of personal data, dropped when stale."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import FormDraft, Profile
from partnermatch.shared.profiles import drafts
from partnermatch.shared.profiles.store import create_profile
from tests.services.api.helpers import council_body


def test_a_draft_is_submitted_once_and_keeps_no_answers(sessions):
    with transaction(sessions) as session:
        draft = drafts.start_draft(session, "council")
        drafts.save_answers(draft, {"contact_name": "Sam"})
    created = []

    def create(answers):
        created.append(answers)
        return create_profile(session, council_body())[0]

    with transaction(sessions) as session:
        first = drafts.submit_draft(session, drafts.find_draft(session, draft.id), create)
    with transaction(sessions) as session:
        again = drafts.submit_draft(session, drafts.find_draft(session, draft.id), create)
        stored = session.get(FormDraft, draft.id)
        assert stored.answers == {}
    assert first == (again[0], True) and again[1] is False and len(created) == 1


def test_a_failed_submission_leaves_the_draft_to_try_again(sessions):
    with transaction(sessions) as session:
        draft = drafts.start_draft(session, "council")

    def refuse(_answers):
        raise ValueError("invalid")

    with pytest.raises(ValueError), transaction(sessions) as session:
        drafts.submit_draft(session, drafts.find_draft(session, draft.id), refuse)
    with sessions() as session:
        assert session.get(FormDraft, draft.id).submitted_at is None
        assert session.scalars(select(Profile)).all() == []


@pytest.mark.parametrize("draft_id", [None, "", "short", "x" * 65, 42])
def test_malformed_draft_ids_find_nothing(sessions, draft_id):
    with sessions() as session:
        assert drafts.find_draft(session, draft_id) is None


def test_stale_drafts_are_dropped(sessions):
    with transaction(sessions) as session:
        old = drafts.start_draft(session, "council")
        old.created_at -= drafts.KEEP_FOR + timedelta(minutes=1)
    with transaction(sessions) as session:
        assert drafts.find_draft(session, old.id) is None
        drafts.start_draft(session, "supplier")
    with sessions() as session:
        assert session.get(FormDraft, old.id) is None
