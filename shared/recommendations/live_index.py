"""Turning stored profiles into matching records, and keeping a worker's index up to date.

Each worker process builds its index once, then catches up from the database before every match:
profiles changed since the last look (with an overlap, because concurrent transactions can commit
out of timestamp order) are upserted, and deleted ones removed. A match never refits the model.

Given a ``SnapshotStore`` and at least its ``min_profiles`` profiles, the index is built once per
machine instead: the first process builds it and saves it
(``partnermatch.shared.matching.snapshot``), every process opens the saved arrays shared and
catches up from the time they were read, keeping its own changes private. A stale snapshot is built
again; one that cannot be used means a private index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import bindparam, func, literal_column, null, select, type_coerce, union_all
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import (
    Council,
    MatchRun,
    NeedRecommendations,
    OutboxEvent,
    Profile,
    utcnow,
)
from partnermatch.shared.matching.columns import FrozenDict, mapped
from partnermatch.shared.matching.index import UNKNOWN_CAPACITY, MatchIndex
from partnermatch.shared.matching.reasons import FICTIONAL, PUBLIC_DATA, SELF_RATED
from partnermatch.shared.matching.snapshot import Snapshot, SnapshotStore, fingerprint
from partnermatch.shared.progress import progress
from partnermatch.shared.recommendations.context_store import load_or_fit
from partnermatch.shared.reference.addresses import is_candidate, is_eligible
from partnermatch.shared.reference.evidence import evidence_for, improved_areas
from partnermatch.shared.reference.records import Candidate, MatchRequest
from partnermatch.shared.reference.register import place_of

log = logging.getLogger(__name__)
_UNUSABLE = (OSError, ValueError, EOFError, KeyError)
SYNC_OVERLAP = timedelta(seconds=30)
LOAD_BATCH = 500
# A partner counts as recommended when it is among a need's top partners (what the email shows,
# stored as NeedRecommendations.top_partner_ids). Rows are read again this many ids back, because
# concurrent transactions can commit out of id order; ids already counted are skipped. A row is
# one need of a run (a few per run), so 100 rows reach back over a few dozen runs.
RECOUNT_OVERLAP = 100


def candidate_from(profile: Profile) -> Candidate:
    """Return the matching record of a stored profile."""
    fields = profile.fields
    council = profile.council
    source = rating_source(profile)
    # A council recommended from public data has not joined: it never offered help.
    capacity = UNKNOWN_CAPACITY if source == PUBLIC_DATA else fields.get(
        "capacity_to_support", "available")
    return Candidate(
        profile_id=profile.id,
        kind=profile.kind,
        name=council.name if council else fields["name"],
        ratings={k: int(v) for k, v in fields["ratings"].items()},
        strengths_text=fields.get("strengths_text") or fields.get("evidence_text", "") + " "
        + fields.get("description", ""),
        needs_text=fields.get("needs_text", ""),
        capacity_to_support=capacity,
        gss_code=profile.gss_code,
        council_type=council.council_type if council else None,
        regions_served=tuple(fields.get("regions_served", ())),
        approved=is_candidate(profile),
        evidence=evidence_for(council) if council else {},
        rating_source=source,
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

    def __init__(self, session: Session, store: SnapshotStore | None = None):
        places = [place_of(c) for c in session.scalars(select(Council))]
        self.context = load_or_fit(places, store.folder / "context" if store else None)
        self.fingerprint = fingerprint(places)
        self.store = store
        self.snapshot: Snapshot | None = None  # the shared snapshot the index was opened from
        self._reset()
        if store is not None and _count(session) >= store.min_profiles:
            self._open_shared(session)
        self.refresh(session)

    def _reset(self) -> None:
        self.index = MatchIndex(self.context)
        self.synced_at: datetime | None = None
        self._seen: dict[str, tuple[int, bool]] | FrozenDict = {}
        self._counted: set[int] = set()  # recommendation ids counted, the latest few only
        self._counted_to = 0

    def _count_recommendations(self, session: Session) -> None:
        """Bring the index's counts of recommendations up to date with the database.

        Every process reads the same rows, so every worker spreads the load alike (the diversity
        of ``partnermatch.shared.matching.index``); a new index counts them all.
        """
        # those of the overlap counted already are not read again
        self._count_rows(session.connection().execute(_UNCOUNTED, self._uncounted()).all())

    def _uncounted(self) -> dict:
        """The parameters of _UNCOUNTED: the rows from the overlap on, less those counted."""
        return {"floor": self._counted_to - RECOUNT_OVERLAP, "counted": sorted(self._counted)}

    def _count_rows(self, rows) -> None:
        """Count recommendation rows read by _UNCOUNTED (id, top partner ids, requester)."""
        counts: dict[str, int] = {}
        own: dict[tuple[str, str], int] = {}
        for row_id, partners, requester in rows:
            if row_id in self._counted:
                continue
            self._counted.add(row_id)
            for partner in partners:
                counts[partner] = counts.get(partner, 0) + 1
                own[(requester, partner)] = own.get((requester, partner), 0) + 1
        if counts:
            self.index.add_recommended(counts, own)
        self._counted_to = max(self._counted, default=0)
        floor = self._counted_to - RECOUNT_OVERLAP
        self._counted = {row_id for row_id in self._counted if row_id > floor}

    def refresh(self, session: Session) -> int:
        """Bring the index up to date with the database; return how many profiles changed."""
        changed = self._catch_up(session)
        if self.snapshot is not None and self.store.expired(self.snapshot, len(self._seen)):
            changed += self._renew(session)
        return changed

    def _catch_up(self, session: Session) -> int:
        now = utcnow()
        first = self.synced_at is None
        if first:  # the whole index: long enough with many profiles to show how far it got
            profiles = progress(session.scalars(select(Profile)), "reading profiles",
                                _count(session))
        else:
            changed_ids, recommended, deleted = self._read_changes(session)
            profiles = self._load(session, changed_ids)
        updated = []
        for profile in profiles:
            state = (profile.version, is_candidate(profile))
            if self._seen.get(profile.id) != state:
                updated.append(candidate_from(profile))
                self._seen[profile.id] = state
        # In batches: texts are vectorised together.
        self.index.extend(progress(updated, "indexing", len(updated)) if first else updated)
        changed = len(updated)
        if first:
            self._count_recommendations(session)
        else:
            self._count_rows(recommended)
            changed += self._remove(deleted)
        self.synced_at = now
        return changed

    # -- the machine's shared snapshot ---------------------------------------------------------

    def _open_shared(self, session: Session) -> None:
        """Open the machine's snapshot, building it first if there is none or it is stale.

        One process builds while the others wait for the lock: they would only build the same.
        """
        try:
            with self.store.locked():
                snapshot = self.store.current(self.fingerprint)
                if snapshot is None:
                    self._catch_up(session)  # the whole index, privately
                    snapshot = self._publish()
                self._adopt(snapshot)
        except _UNUSABLE as error:  # the index is left private: built, or to build
            log.warning("shared index not used (%s: %s)", type(error).__name__, error)

    def _renew(self, session: Session) -> int:
        """Open a newer snapshot, or build one if none is (one process; the others go on)."""
        try:
            with self.store.locked(wait=False) as held:
                if not held:
                    return 0  # another process is building it: look again at the next refresh
                snapshot = self.store.current(self.fingerprint)
                if snapshot is None:
                    self._reset()
                    self._catch_up(session)
                    snapshot = self._publish()
                self._adopt(snapshot)
        except _UNUSABLE as error:  # the index is left private, as it is
            log.warning("shared index not renewed (%s: %s)", type(error).__name__, error)
            self.snapshot = None
        return self._catch_up(session)

    def _publish(self) -> Snapshot:
        return self.store.publish(self._save, self.fingerprint, self.synced_at, len(self._seen))

    def _save(self, folder: Path, spare: int) -> None:
        self.index.save(folder, spare)
        ids = np.array([pid.encode() for pid in self._seen] or [b""], dtype=bytes)
        order = np.argsort(ids[: len(self._seen)], kind="stable")
        states = np.array([version * 2 + approved for version, approved in self._seen.values()],
                          dtype=np.int64)
        np.save(folder / "seen.ids.npy", ids[order])
        np.save(folder / "seen.states.npy", states[order])

    def _adopt(self, snapshot: Snapshot) -> None:
        """Replace the index with the snapshot's, shared, up to date with its time."""
        index = MatchIndex.open(snapshot.folder, self.context)
        ids = mapped(snapshot.folder / "seen.ids.npy")
        width = ids.dtype.itemsize
        seen = FrozenDict(
            ids, mapped(snapshot.folder / "seen.states.npy"),
            encode=lambda pid: encoded if len(encoded := pid.encode()) <= width else None,
            decode_key=bytes.decode, decode=lambda state: (int(state) >> 1, bool(state & 1)))
        self.index, self._seen = index, seen
        self.synced_at, self.snapshot = snapshot.synced_at, snapshot
        self.index.set_recommended({})  # counted again from the database at the catch-up
        self._counted, self._counted_to = set(), 0

    def _read_changes(self, session: Session) -> tuple[list[str], list[tuple], list[str]]:
        """Read what changed since the last look, in one statement (_CHANGES): the ids of
        profiles changed, the recommendation rows not counted yet, the profiles deleted.

        Profiles are read as ids and versions only. The overlap means every profile changed in
        the last SYNC_OVERLAP comes back each time (all of a launch's submissions, say); whole
        rows are read only for the ones not seen yet. Read through Core, on the session's
        connection and transaction: the ORM's row handling cost more than the query when a
        burst keeps hundreds of rows inside the overlap.
        """
        rows = session.connection().execute(
            _CHANGES, {"since": self.synced_at - SYNC_OVERLAP, **self._uncounted()})
        seen = self._seen
        changed, recommended, deleted = [], [], []
        for what, key, version, *standing, row_id, partners in rows:
            if what == _CHANGED:
                if seen.get(key) != (version, is_eligible(*standing)):
                    changed.append(key)
            elif what == _RECOMMENDED:
                recommended.append((row_id, partners, key))
            else:
                deleted.append(key)
        return changed, recommended, deleted

    @staticmethod
    def _load(session: Session, profile_ids: list[str]) -> Iterator[Profile]:
        """Yield the profiles of these ids: those the session holds already as they are (a
        match holds the profile it matches: the one new profile, as a rule), the others read.

        A read would return the held ones unchanged anyway (the session's identity map), only
        after a round trip and their councils' public data decoded again.
        """
        missing = []
        for profile_id in profile_ids:
            held = session.identity_map.get(session.identity_key(Profile, profile_id))
            if held is None:
                missing.append(profile_id)
            else:
                yield held
        for start in range(0, len(missing), LOAD_BATCH):
            batch = missing[start:start + LOAD_BATCH]
            yield from session.scalars(select(Profile).where(Profile.id.in_(batch)))

    def _remove(self, deleted: list[str]) -> int:
        removed = [p for p in deleted if self._seen.pop(p, None) is not None]
        for profile_id in removed:
            self.index.remove(profile_id)
        return len(removed)


# The catch-up's statements, built once: building them again for every match cost as much as
# running them. Read through Core on the session's connection (see _read_changes).
_UNCOUNTED = (
    select(NeedRecommendations.id, NeedRecommendations.top_partner_ids,
           func.coalesce(Profile.gss_code, Profile.id))
    .join(MatchRun, MatchRun.id == NeedRecommendations.match_run_id)
    .join(Profile, Profile.id == MatchRun.profile_id)
    .where(NeedRecommendations.id > bindparam("floor"),
           NeedRecommendations.id.not_in(bindparam("counted", expanding=True)))
)
# What a catch-up reads, one round trip where it was three: a row per profile changed (its id,
# version and standing), per recommendation row not counted (its requester, id and partners)
# and per profile deleted (its id), told apart by the first column. The NULLs of the first part
# carry the types of the columns the other parts fill, for their values to be read alike.
_CHANGED, _RECOMMENDED, _DELETED = "c", "r", "d"
_NULL_ID = type_coerce(null(), NeedRecommendations.id.type)
_NULL_PARTNERS = type_coerce(null(), NeedRecommendations.top_partner_ids.type)
_CHANGES = union_all(
    select(literal_column(f"'{_CHANGED}'"), Profile.id, Profile.version, Profile.approved,
           Profile.demo, Profile.contact_confirmed, Profile.address_status, _NULL_ID,
           _NULL_PARTNERS)
    .where(Profile.updated_at >= bindparam("since")),
    select(literal_column(f"'{_RECOMMENDED}'"), func.coalesce(Profile.gss_code, Profile.id),
           null(), null(), null(), null(), null(), NeedRecommendations.id,
           NeedRecommendations.top_partner_ids)
    .join(MatchRun, MatchRun.id == NeedRecommendations.match_run_id)
    .join(Profile, Profile.id == MatchRun.profile_id)
    .where(NeedRecommendations.id > bindparam("floor"),
           NeedRecommendations.id.not_in(bindparam("counted", expanding=True))),
    select(literal_column(f"'{_DELETED}'"), OutboxEvent.profile_id,
           null(), null(), null(), null(), null(), null(), null())
    .where(OutboxEvent.topic == "profile.deleted", OutboxEvent.created_at >= bindparam("since")),
)


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Profile)) or 0
