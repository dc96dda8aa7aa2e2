"""An index saved to files and opened by many processes matches exactly as a private one."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace

import numpy as np
import pytest

from partnermatch.shared.matching.context import ContextModel
from partnermatch.shared.matching.index import MatchIndex
from partnermatch.shared.reference.records import MatchRequest
from partnermatch.shared.reference.taxonomy import SERVICE_AREAS, delivers
from tests.shared.matching.test_index import PLACES, council, supplier

AREAS = sorted(SERVICE_AREAS)
WORDS = ("fostering", "recruitment", "waste", "recycling", "housing", "homelessness",
         "leadership", "care", "leavers", "digital", "transformation", "budget")
REGIONS = ("North West", "London", "South East")


def profiles(seed: int, count: int, prefix: str = "p") -> list:
    """Return councils (several per place) and suppliers with texts, evidence and regions."""
    rng = np.random.default_rng(seed)
    found = []
    for i in range(count):
        ratings = {str(a): int(rng.integers(1, 6))
                   for a in rng.choice(AREAS, int(rng.integers(1, 5)), replace=False)}
        text = " ".join(rng.choice(WORDS, int(rng.integers(0, 6))))
        capacity = str(rng.choice(["available", "limited", "none"]))
        if rng.random() < 0.15:
            regions = tuple(rng.choice(REGIONS, int(rng.integers(0, 3)), replace=False))
            found.append(supplier(f"{prefix}{i}", ratings, strengths_text=text,
                                  capacity_to_support=capacity, regions_served=regions,
                                  approved=bool(rng.random() < 0.9)))
        else:
            place = PLACES[int(rng.integers(1, len(PLACES)))]
            evidence = {a: (f"Evidence for {a} at {place.gss_code}",) for a in ratings
                        if rng.random() < 0.3}
            found.append(council(f"{prefix}{i}", place.gss_code, ratings, strengths_text=text,
                                 capacity_to_support=capacity, evidence=evidence,
                                 improved=tuple(a for a in ratings if rng.random() < 0.1)))
    return found


def requests(seed: int, count: int) -> list[MatchRequest]:
    rng = np.random.default_rng(seed)
    found = []
    for i in range(count):
        place = PLACES[int(rng.integers(len(PLACES)))]
        ratings = {str(a): int(rng.integers(1, 6))
                   for a in rng.choice(AREAS, int(rng.integers(1, 6)), replace=False)
                   if delivers(place.council_type, a)}
        seeking = (("council", "supplier"), ("council",), ("supplier",))[i % 3]
        found.append(MatchRequest(
            profile_id=f"p{i}" if i % 4 == 0 else f"request-{i}", kind="council",
            ratings=ratings, needs_text=" ".join(rng.choice(WORDS, int(rng.integers(0, 4)))),
            seeking=seeking, gss_code=place.gss_code, council_type=place.council_type,
            region=place.region))
    return found


def change(index: MatchIndex, seed: int) -> None:
    """Apply the same updates, new profiles, removals and recommendations to an index."""
    rng = np.random.default_rng(seed)
    for candidate in profiles(seed, 60):  # new versions of existing profiles
        if rng.random() < 0.5:
            index.upsert(candidate)
    index.extend(profiles(seed + 1, 150, prefix="new"))
    for i in rng.choice(400, 40, replace=False).tolist():
        index.remove(f"p{i}")
    index.remove("never-indexed")
    index.record_recommended([f"p{i}" for i in rng.choice(400, 50).tolist()] + ["new3"] * 4)


def results(index: MatchIndex, seed: int = 5) -> list:
    return [index.match(request, limit) for request in requests(seed, 80) for limit in (3, 10)]


@pytest.fixture(scope="module")
def context():
    return ContextModel.fit(PLACES)


@pytest.fixture
def saved(context, tmp_path):
    private = MatchIndex(context)
    private.extend(profiles(1, 400))
    private.record_recommended(["p1", "p2", "p2"])
    private.save(tmp_path, spare=64)
    return private, tmp_path


def test_an_opened_index_matches_exactly_as_the_index_it_was_saved_from(context, saved):
    private, folder = saved
    opened = MatchIndex.open(folder, context)
    assert len(opened) == len(private) and "p7" in opened and "nobody" not in opened
    found = results(opened)
    assert found == results(private)
    assert sum(len(need.partners) for needs in found for need in needs) > 1000


def test_changes_after_opening_stay_exact_and_private_to_the_process(context, saved):
    private, folder = saved
    opened, untouched = MatchIndex.open(folder, context), MatchIndex.open(folder, context)
    before = results(untouched)
    change(private, 11)
    change(opened, 11)
    assert len(opened) == len(private)
    assert results(opened) == results(private)
    assert results(untouched) == before  # copy-on-write: another opener never sees the changes


def test_growing_past_the_spare_rows_and_compacting_stay_exact(context, saved):
    private, folder = saved
    opened = MatchIndex.open(folder, context)
    for index in (private, opened):
        index.extend(profiles(21, 3000, prefix="more"))  # past the spare rows: arrays copied
        for i in range(2900):
            index.remove(f"more{i}")  # more dead rows than live ones: compacted
        index.upsert(replace(profiles(22, 1)[0], profile_id="p3"))
    assert len(opened) == len(private)
    assert results(opened) == results(private)


def _match_in_child(folder, queue) -> None:
    opened = MatchIndex.open(folder, ContextModel.fit(PLACES))
    change(opened, 11)
    queue.put(results(opened))


def test_two_processes_open_the_same_files_and_match_exactly(context, saved):
    private, folder = saved
    change(private, 11)
    expected = results(private)
    spawn = multiprocessing.get_context("spawn")  # fresh processes, as the workers are
    queue = spawn.Queue()
    children = [spawn.Process(target=_match_in_child, args=(folder, queue)) for _ in range(2)]
    for child in children:
        child.start()
    found = [queue.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    assert found == [expected, expected]
