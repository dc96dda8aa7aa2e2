"""Worker throughput: match tasks per second over 10k candidates, beside no-op tasks per second.

A fresh database (PostgreSQL, else SQLite) gets the council register and 10,000 synthetic
candidate profiles (``bench.synthetic``, dated a month ago), then a burst of council submissions
(profiles, versions and outbox events written at once, as a regional launch would). One
``celery worker`` subprocess with the production settings (prefork, concurrency 2, prefetch 1,
late acks) consumes first a batch of no-op tasks, then one match task per submission (each
stores its match run and recommendations), then no-ops again; the ceiling is the mean of the two
no-op rates. Submitters' addresses are under ``example.invalid``, so nobody is emailed. The batches
are small enough that no pool process reaches ``worker_max_tasks_per_child`` (1000) and is
replaced (its successor would rebuild the index inside the measurement).

Run: ``python -m bench.throughput [--candidates 10000] [--matches 400] [--database postgresql]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.stack import broker, fresh_database, postgres_server, seed_candidates, service_env
from bench.synthetic import Profiles
from partnermatch.config.settings import load_settings
from partnermatch.shared.db.engine import (
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    transaction,
)
from partnermatch.shared.db.models import Council, MatchRun, OutboxEvent
from partnermatch.shared.outbox.names import TaskName
from partnermatch.shared.profiles.store import create_profile
from partnermatch.shared.reference.register import place_of
from tests.processes import CeleryProcess

WARM_UP = 4  # one index build per pool process, and then some
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Throughput:
    """Tasks per second of the match tasks and of the no-op ceiling."""

    database: str
    candidates: int
    matches_per_second: float
    noops_per_second: float

    @property
    def ratio(self) -> float:
        return self.matches_per_second / self.noops_per_second


def submit(sessions, count: int, seed: int) -> list[str]:
    """Store ``count`` council submissions with their outbox events; return the event ids."""
    with transaction(sessions) as session:
        places = [place_of(c) for c in session.scalars(select(Council))]
        requests = Profiles(places).requests(count, seed=seed)
        profile_ids = []
        for number, request in enumerate(requests):
            address = f"launch-{seed}-{number}@bench.example.invalid"
            profile, _token = create_profile(session, {
                "kind": "council", "gss_code": request.gss_code, "contact_name": "Launch",
                "contact_email": address, "share_contact": False, "ratings": request.ratings,
                "needs_text": request.needs_text, "seeking": list(request.seeking),
                "capacity_to_support": "limited",
            })
            profile_ids.append(profile.id)
        session.flush()
        return list(session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.profile_id.in_(profile_ids))))


def match_rate(celery, sessions, event_ids: list[str]) -> float:
    """Publish one match task per event; return match runs stored per second, until every
    event has its run (a task may match the waiting events beside its own, in one batch)."""
    start = time.perf_counter()
    for event_id in event_ids:
        celery.send_task(TaskName.MATCH_PROFILE, args=(event_id,),
                         task_id=f"match-{event_id}")
    stored = select(func.count()).select_from(MatchRun).where(MatchRun.event_id.in_(event_ids))
    while True:
        with sessions() as session:
            if session.scalar(stored) >= len(event_ids):
                return len(event_ids) / (time.perf_counter() - start)
        time.sleep(POLL_SECONDS)


def noop_rate(celery, count: int) -> float:
    """Publish ``count`` no-op tasks; return how many completed per second."""
    start = time.perf_counter()
    results = [celery.send_task(TaskName.NOOP) for _ in range(count)]
    for result in results:
        result.get(timeout=120)
    return count / (time.perf_counter() - start)


def measure(kind: str, server: str | None, candidates: int, matches: int,
            noops: int) -> Throughput:
    """Run the whole benchmark on one database backend."""
    from partnermatch.services.worker.app import create_celery

    with tempfile.TemporaryDirectory() as tmp, fresh_database(kind, Path(tmp), server) as url, \
            broker(Path(tmp)) as redis_url:
        seed_candidates(url, candidates)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        warm = submit(sessions, WARM_UP, seed=1)
        env = service_env(url, redis_url, Path(tmp))
        celery = create_celery(load_settings(env))
        worker = CeleryProcess.worker(env, Path(tmp) / "worker.log")
        try:
            readers = make_read_sessionmaker(engine)  # polling never takes SQLite's write lock
            match_rate(celery, readers, warm)
            first = noop_rate(celery, noops)
            burst = submit(sessions, matches, seed=2)  # after the warm-up, which would batch it
            rate = match_rate(celery, readers, burst)
            second = noop_rate(celery, noops)
        finally:
            worker.stop()
            engine.dispose()
    return Throughput(kind, candidates, rate, (first + second) / 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--matches", type=int, default=400)
    parser.add_argument("--noops", type=int, default=500)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), action="append")
    parser.add_argument("--postgres", help="server to create a database on "
                        "(default: TEST_DATABASE_URL)")
    args = parser.parse_args(argv)
    server = postgres_server(args.postgres)
    kinds = args.database or (["postgresql"] if server else ["sqlite"])
    print(f"{'database':12}{'match/s':>10}{'no-op/s':>10}{'ratio':>8}  (target ≥ 0.3)")
    for kind in kinds:
        found = measure(kind, server, args.candidates, args.matches, args.noops)
        print(f"{found.database:12}{found.matches_per_second:10.1f}"
              f"{found.noops_per_second:10.1f}{found.ratio:8.2f}")


if __name__ == "__main__":
    main()
