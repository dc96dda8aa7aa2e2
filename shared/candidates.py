"""Turning stored profiles into matching records, and keeping a worker's index up to date.

Each worker process builds its index once, then catches up from the database before every match:
profiles changed since the last look (with an overlap, because concurrent transactions can commit
out of timestamp order) are upserted, and deleted ones removed. A match never refits the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.context import ContextModel
from shared.evidence import evidence_for, improved_areas
from shared.matching import MatchIndex
from shared.models import Council, OutboxEvent, Profile, utcnow
from shared.reasons import FICTIONAL, PUBLIC_DATA, SELF_RATED
from shared.records import Candidate, MatchRequest
from shared.register import place_of

SYNC_OVERLAP = timedelta(seconds=30)
LOAD_BATCH = 500


def candidate_from(profile: Profile) -> Candidate:
    """Return the matching record of a stored profile."""
    fields = profile.fields
    council = profile.council
    return Candidate(
        profile_id=profile.id,
        kind=profile.kind,
        name=council.name if council else fields["name"],
        ratings={k: int(v) for k, v in fields["ratings"].items()},
        strengths_text=fields.get("strengths_text") or fields.get("evidence_text", "") + " "
        + fields.get("description", ""),
        needs_text=fields.get("needs_text", ""),
        capacity_to_support=fields.get("capacity_to_support", "available"),
        gss_code=profile.gss_code,
        council_type=council.council_type if council else None,
        regions_served=tuple(fields.get("regions_served", ())),
        approved=profile.approved,
        evidence=evidence_for(council) if council else {},
        rating_source=rating_source(profile),
        improved=improved_areas(council) if council else (),
    )


def rating_source(profile: Profile) -> str:
    """Say who rated a profile: its owner, or (demo profiles) public data or fiction."""
    if not profile.demo:
        return SELF_RATED
    return PUBLIC_DATA if profile.kind == "council" else FICTIONAL


def request_from(profile: Profile) -> MatchRequest:
    """Return the match request of a stored profile."""
    fields = profile.fields
    council = profile.council
    return MatchRequest(
        profile_id=profile.id,
        kind=profile.kind,
        ratings={k: int(v) for k, v in fields["ratings"].items()},
        needs_text=fields.get("needs_text", ""),
        seeking=tuple(fields.get("seeking", ("council", "supplier"))),
        gss_code=profile.gss_code,
        council_type=council.council_type if council else None,
        region=council.region if council else None,
    )


class CandidateIndex:
    """A process's matching index and the point in time it is up to date with."""

    def __init__(self, session: Session):
        places = [place_of(c) for c in session.scalars(select(Council))]
        self.context = ContextModel.fit(places)
        self.index = MatchIndex(self.context)
        self.synced_at: datetime | None = None
        self._seen: dict[str, tuple[int, bool]] = {}
        self.refresh(session)

    def refresh(self, session: Session) -> int:
        """Bring the index up to date with the database; return how many profiles changed."""
        now = utcnow()
        if self.synced_at is None:
            profiles = session.scalars(select(Profile))
        else:
            profiles = self._load(session, self._changed_ids(session))
        updated = []
        for profile in profiles:
            state = (profile.version, profile.approved)
            if self._seen.get(profile.id) != state:
                updated.append(candidate_from(profile))
                self._seen[profile.id] = state
        self.index.extend(updated)  # in batches: texts are vectorised together
        changed = len(updated)
        if self.synced_at is not None:
            changed += self._remove_deleted(session)
        self.synced_at = now
        return changed

    def _changed_ids(self, session: Session) -> list[str]:
        """Return ids changed since the last look, reading only ids and versions.

        The overlap means every profile changed in the last SYNC_OVERLAP comes back each time
        (all of a launch's submissions, say); whole rows are read only for the ones not seen yet.
        """
        recent = session.execute(
            select(Profile.id, Profile.version, Profile.approved)
            .where(Profile.updated_at >= self.synced_at - SYNC_OVERLAP)
        )
        return [id_ for id_, version, approved in recent
                if self._seen.get(id_) != (version, approved)]

    @staticmethod
    def _load(session: Session, profile_ids: list[str]) -> Iterator[Profile]:
        for start in range(0, len(profile_ids), LOAD_BATCH):
            batch = profile_ids[start:start + LOAD_BATCH]
            yield from session.scalars(select(Profile).where(Profile.id.in_(batch)))

    def _remove_deleted(self, session: Session) -> int:
        deleted = session.scalars(
            select(OutboxEvent.profile_id).where(
                OutboxEvent.topic == "profile.deleted",
                OutboxEvent.created_at >= self.synced_at - SYNC_OVERLAP,
            )
        ).all()
        removed = [p for p in deleted if self._seen.pop(p, None) is not None]
        for profile_id in removed:
            self.index.remove(profile_id)
        return len(removed)
