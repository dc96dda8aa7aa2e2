"""End to end: confirmed POST → recommendation email accepted by SMTP, beside a no-op round trip.

Starts its own redis-server, SMTP server (aiosmtpd), database (a fresh PostgreSQL database on the
server named by ``--postgres`` or ``TEST_DATABASE_URL``, else SQLite) with the demo profiles, and
a ``celery worker`` subprocess; the API runs in this process with its real publisher. Prints p50
and p95 of both, and the ratio. Run: ``python -m bench.e2e [--runs 30] [--database sqlite]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import PROJECT_ROOT
from bench.stack import api_env, broker, fresh_database, postgres_server, service_env
from partnermatch.config.settings import load_settings
from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.outbox.names import TaskName
from partnermatch.shared.profiles.demo import seed_demo
from tests.processes import CeleryProcess, start_smtp

LEEDS = {
    "kind": "council", "gss_code": "E08000035", "contact_name": "Bench",
    "contact_email": "bench@leeds.gov.uk", "share_contact": False,
    "ratings": {"childrens_services": 1, "adult_social_care": 2, "education_send": 2},
    "needs_text": "Care leavers in suitable accommodation", "seeking": ["council", "supplier"],
    "capacity_to_support": "limited",
}
EMAIL_TIMEOUT = 30.0  # the relay is not running here: a lost email would never come


@dataclass(frozen=True)
class RoundTrips:
    """Seconds of each no-op round trip and of each submission's way to the SMTP server."""

    database: str
    noop: list[float]
    e2e: list[float]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def seed(database_url: str) -> None:
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        seed_demo(session)
    engine.dispose()


def noop_round_trips(celery, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        celery.send_task(TaskName.NOOP).get(timeout=30)
        times.append(time.perf_counter() - start)
    return times


def warm_up(client, mailbox, processes: int = 2) -> None:
    """Submit one profile per pool process at once, so that each builds its index now."""
    before = len(mailbox.messages)
    for _ in range(processes * 2):
        assert client.post("/api/v1/profiles", json=LEEDS).status_code == 201
    wait_for_emails(mailbox, before + processes * 2, seconds=120)


def wait_for_emails(mailbox, count: int, seconds: float = EMAIL_TIMEOUT) -> None:
    """Wait until the SMTP server holds `count` emails; fail rather than hang."""
    deadline = time.monotonic() + seconds
    while len(mailbox.messages) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no email within {seconds:.0f} s; see the worker's log")
        time.sleep(0.001)


def email_round_trips(client, mailbox, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        before = len(mailbox.messages)
        start = time.perf_counter()
        assert client.post("/api/v1/profiles", json=LEEDS).status_code == 201
        wait_for_emails(mailbox, before + 1)
        times.append(time.perf_counter() - start)
    return times


def measure(kind: str, server: str | None, runs: int) -> RoundTrips:
    """Run the whole benchmark on one database backend."""
    os.chdir(PROJECT_ROOT)
    with tempfile.TemporaryDirectory() as tmp, fresh_database(kind, Path(tmp), server) as url, \
            broker(Path(tmp)) as redis_url:
        seed(url)
        controller, mailbox = start_smtp()
        # Confirmation is off so that the recommendation email is the first one owed.
        env = service_env(url, redis_url, Path(tmp), REQUIRE_EMAIL_CONFIRMATION="false",
                          SMTP_HOST="127.0.0.1", SMTP_PORT=str(controller.port))
        worker = CeleryProcess.worker(env, Path(tmp) / "worker.log")
        try:
            return RoundTrips(kind, *_round_trips(env, mailbox, runs))
        finally:
            worker.stop()
            controller.stop()


def _round_trips(env: dict[str, str], mailbox, runs: int) -> tuple[list[float], list[float]]:
    from partnermatch.services.api.app import create_app
    from partnermatch.services.worker.app import create_celery

    celery = create_celery(load_settings(env))
    noop_round_trips(celery, 3)  # warm-up: worker started, connections open
    client = create_app(api_env(env)).test_client()
    warm_up(client, mailbox)
    email_round_trips(client, mailbox, 4)
    noop, e2e = [], []
    for _ in range(2):  # interleaved, so that a burst of load elsewhere hits both alike
        noop += noop_round_trips(celery, runs // 2)
        e2e += email_round_trips(client, mailbox, runs // 2)
    return noop, e2e


def report(found: RoundTrips) -> None:
    print(f"{found.database + ':':34}{'p50 ms':>10}{'p95 ms':>10}")
    for name, values in (("no-op task round trip (ceiling)", found.noop),
                         ("confirmed POST → email at SMTP", found.e2e)):
        print(f"  {name:32}{statistics.median(values) * 1000:10.1f}"
              f"{percentile(values, 0.95) * 1000:10.1f}")
    ratio = statistics.median(found.e2e) / statistics.median(found.noop)
    print(f"  ratio p50 e2e / no-op: {ratio:.1f} (target ≤ 8); "
          f"p95 e2e {percentile(found.e2e, 0.95) * 1000:.0f} ms (target < 250)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), action="append")
    parser.add_argument("--postgres", help="server to create a database on "
                        "(default: TEST_DATABASE_URL)")
    args = parser.parse_args(argv)
    server = postgres_server(args.postgres)
    for kind in args.database or (["postgresql", "sqlite"] if server else ["sqlite"]):
        report(measure(kind, server, args.runs))


if __name__ == "__main__":
    main()
