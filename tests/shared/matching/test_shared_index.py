"""The index shared by a machine's worker processes answers as each process's own would."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from sqlalchemy import insert, select

from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.db.models import MatchRun, NeedRecommendations, Profile
from partnermatch.shared.matching.index import MODEL_VERSION
from partnermatch.shared.matching.snapshot import SnapshotStore
from partnermatch.shared.profiles.demo import seed_demo
from partnermatch.shared.profiles.store import create_profile, erase_profile, update_profile
from partnermatch.shared.recommendations.live_index import CandidateIndex, request_from
from partnermatch.shared.recommendations.runs import need_rows
from tests.shared.recommendations.test_live_index import LEEDS, MANCHESTER, council_fields


@pytest.fixture
def seeded(sessions):
    with transaction(sessions) as session:
        seed_demo(session)
    return sessions


def matches(index: CandidateIndex, session) -> list:
    """Return the matches of a sample of the stored profiles, in a fixed order."""
    profiles = session.scalars(select(Profile).order_by(Profile.id)).all()[::7]
    return [index.index.match(request_from(p), limit=5) for p in profiles]


def change_profiles(sessions) -> None:
    with transaction(sessions) as session:
        # the profiles changed are chosen before the new one exists: ids are random, and the new
        # one must not be the one updated or erased (three changes, always)
        profiles = session.scalars(select(Profile).order_by(Profile.id)).all()
        create_profile(session, council_fields(LEEDS, {"waste": 5, "housing": 1},
                                               strengths_text="recycling rounds"))
        update_profile(session, profiles[3], council_fields(
            profiles[3].gss_code or MANCHESTER, {"waste": 5, "adult_social_care": 5}))
        erase_profile(session, profiles[10])


def test_processes_sharing_a_snapshot_match_as_a_private_index(seeded, tmp_path):
    store = SnapshotStore(tmp_path / "index", min_profiles=0)
    with seeded() as session:
        builder, opener = CandidateIndex(session, store), CandidateIndex(session, store)
        private = CandidateIndex(session)
        assert builder.snapshot is not None and opener.snapshot == builder.snapshot
        assert private.snapshot is None
        assert matches(opener, session) == matches(builder, session) == matches(private, session)
    change_profiles(seeded)
    with seeded() as session:
        assert [i.refresh(session) for i in (builder, opener, private)] == [3, 3, 3]
        expected = matches(private, session)
        assert any(need.partners for needs in expected for need in needs)
        assert matches(builder, session) == matches(opener, session) == expected
    assert len(opener.index) == len(private.index)


def test_a_small_database_is_indexed_privately_without_files(seeded, tmp_path):
    store = SnapshotStore(tmp_path / "index", min_profiles=10**9)
    with seeded() as session:
        index = CandidateIndex(session, store)
    assert index.snapshot is None
    # only the fitted context model is saved (shared by every process); no index files
    assert [p.name for p in store.folder.iterdir()] == ["context"]


def test_a_stale_snapshot_is_built_again_and_the_counts_come_from_the_database(seeded, tmp_path):
    store = SnapshotStore(tmp_path / "index", min_profiles=0)
    with seeded() as session:
        first = CandidateIndex(session, store)
        private = CandidateIndex(session)
    store_matches(seeded, first, times=3)
    old = first.snapshot.folder
    store.max_age = 0.0
    time.sleep(0.01)
    change_profiles(seeded)
    with seeded() as session:
        assert first.refresh(session) == private.refresh(session) == 3
        renewed = first.snapshot.folder
        assert renewed != old and not old.exists()
        counts = private.index.recommended_counts()
        assert counts and max(counts.values()) >= 3
        assert first.index.recommended_counts() == counts
        assert matches(first, session) == matches(private, session)
        store.max_age = 3600.0
        other = CandidateIndex(session, store)  # opens the renewed snapshot
        assert other.index.recommended_counts() == counts
    assert other.snapshot.folder == renewed
    assert sorted(p.name for p in store.folder.iterdir() if "gen-" in p.name) == [renewed.name]


def store_matches(sessions, index: CandidateIndex, times: int) -> None:
    """Store the matches of a few profiles, as the worker does, several times over."""
    with transaction(sessions) as session:
        profiles = session.scalars(select(Profile).order_by(Profile.id)).all()[::7][:5]
        for time_ in range(1, times + 1):
            for profile in profiles:  # runs of made-up later versions: the rows are what count
                version = profile.version + 1000 * time_
                run = MatchRun(profile_id=profile.id, profile_version=version,
                               model_version=MODEL_VERSION)
                session.add(run)
                session.flush()
                rows = need_rows(run.id, index.index.match(request_from(profile), 5))
                if rows:
                    session.execute(insert(NeedRecommendations), rows)


def test_workers_spread_the_load_alike_from_the_counts_in_the_database(seeded):
    with seeded() as session:
        one, two = CandidateIndex(session), CandidateIndex(session)
    store_matches(seeded, one, times=2)
    with seeded() as session:
        one.refresh(session)
        two.refresh(session)
        assert one.index.recommended_counts() == two.index.recommended_counts() != {}
        assert matches(one, session) == matches(two, session)
        one.refresh(session)  # counting again adds nothing
        assert one.index.recommended_counts() == two.index.recommended_counts()


def test_an_unusable_store_or_snapshot_means_a_private_index(seeded, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with seeded() as session:
        private = CandidateIndex(session)
        unusable = CandidateIndex(session, SnapshotStore(blocked / "index", min_profiles=0))
        assert unusable.snapshot is None
        assert matches(unusable, session) == matches(private, session)
        store = SnapshotStore(tmp_path / "index", min_profiles=0)
        built = CandidateIndex(session, store)
        (built.snapshot.folder / "index.json").write_text("{")  # damaged after it was written
        damaged = CandidateIndex(session, store)
        assert damaged.snapshot is None
        assert matches(damaged, session) == matches(private, session)


def _match_in_process(url: str, folder: str, queue) -> None:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        index = CandidateIndex(session, SnapshotStore(folder, min_profiles=0))
        queue.put((str(index.snapshot.folder), matches(index, session)))
    engine.dispose()


def test_two_worker_processes_build_once_and_share_the_snapshot(seeded, database_url, tmp_path):
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, as prefork children are
    queue = spawn.Queue()
    children = [spawn.Process(target=_match_in_process,
                              args=(database_url, str(tmp_path / "index"), queue))
                for _ in range(2)]
    for child in children:
        child.start()
    found = [queue.get(timeout=180) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    with seeded() as session:
        expected = matches(CandidateIndex(session), session)
    (first, first_matches), (second, second_matches) = found
    assert first == second  # one snapshot: built by one process, opened by the other
    assert first_matches == second_matches == expected


def test_the_context_model_fitted_once_is_loaded_by_the_next_process(seeded, tmp_path,
                                                                     monkeypatch):
    from partnermatch.shared.matching.context import ContextModel

    store = SnapshotStore(tmp_path / "index", min_profiles=10**9)
    with seeded() as session:
        first = CandidateIndex(session, store)
        assert list((store.folder / "context").glob("context-*.joblib"))
        monkeypatch.setattr(ContextModel, "fit", classmethod(
            lambda cls, *a, **k: pytest.fail("fitted again instead of loaded")))
        second = CandidateIndex(session, store)
        assert matches(second, session) == matches(first, session)
