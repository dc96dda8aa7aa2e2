"""Web form drafts: answers kept between the form's pages, submitted exactly once.

A draft's id is a random secret held by the browser. Submitting claims the draft with a
conditional UPDATE in the same transaction that stores the profile, so a double submit (two
clicks, two tabs, a retried request) finds it claimed and gets the first submission's profile.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import FormDraft, Profile, utcnow

KEEP_FOR = timedelta(days=1)  # an abandoned draft holds personal data: drop it after a day


def start_draft(session: Session, kind: str) -> FormDraft:
    """Create an empty draft (and drop stale ones, which nobody can finish any more)."""
    session.execute(delete(FormDraft).where(FormDraft.created_at < utcnow() - KEEP_FOR))
    draft = FormDraft(id=secrets.token_urlsafe(32), kind=kind, answers={})
    session.add(draft)
    session.flush()
    return draft


def find_draft(session: Session, draft_id: Any) -> FormDraft | None:
    """Return a draft that has not gone stale, fresh from the database."""
    if not isinstance(draft_id, str) or not 20 <= len(draft_id) <= 64:
        return None
    draft = session.scalar(select(FormDraft).where(FormDraft.id == draft_id)
                           .execution_options(populate_existing=True))
    if draft is None or draft.created_at < utcnow() - KEEP_FOR:
        return None
    return draft


def save_answers(draft: FormDraft, answers: dict[str, Any]) -> None:
    """Merge a page's answers into the draft."""
    draft.answers = {**draft.answers, **answers}


def submit_draft(session: Session, draft: FormDraft,
                 create: Callable[[dict[str, Any]], Profile]) -> tuple[str | None, bool]:
    """Submit a draft once: return (profile id, True) the first time, (earlier id, False) after.

    `create` validates and stores the profile; if it raises, the claim is rolled back with it.
    """
    claimed = session.execute(
        update(FormDraft)
        .where(FormDraft.id == draft.id, FormDraft.submitted_at.is_(None))
        .values(submitted_at=utcnow())
    )
    if claimed.rowcount != 1:
        earlier = find_draft(session, draft.id)
        return (earlier.profile_id if earlier else None), False
    profile = create(dict(draft.answers))
    session.execute(update(FormDraft).where(FormDraft.id == draft.id)
                    .values(profile_id=profile.id, answers={}))  # the profile keeps them now
    return profile.id, True
