"""End to end: confirmed POST → recommendation email accepted by SMTP, beside a no-op round trip.

Starts its own redis-server, SMTP server (aiosmtpd), SQLite database and `celery worker`
subprocess; the API runs in this process with its real publisher. Prints p50 and p95 of both, and
the ratio. Run: `python -m bench.e2e [--runs 20]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from config.settings import PROJECT_ROOT, load_settings
from services.embedded import start_redis
from shared.db import make_engine, make_sessionmaker, transaction
from shared.demo import seed_demo
from shared.migrate import upgrade
from shared.register import load_register
from tests.processes import CeleryProcess, start_smtp

LEEDS = {
    "kind": "council", "gss_code": "E08000035", "contact_name": "Bench",
    "contact_email": "bench@leeds.gov.uk", "share_contact": False,
    "ratings": {"childrens_services": 1, "adult_social_care": 2, "education_send": 2},
    "needs_text": "Care leavers in suitable accommodation", "seeking": ["council", "supplier"],
    "capacity_to_support": "limited",
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def prepare(workdir: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    database = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database)
    engine = make_engine(database)
    with transaction(make_sessionmaker(engine)) as session:
        load_register(session, load_settings().REFERENCE_DATA_DIR)
        seed_demo(session)
    engine.dispose()
    redis_process, redis_url = start_redis(workdir / "redis", appendonly=False)
    env = {"PARTNERMATCH_ENV": "test", "DATABASE_URL": database, "REDIS_URL": redis_url,
           "SECRET_KEY": "bench", "VAR_DIR": str(workdir / "var"),
           "REQUIRE_EMAIL_CONFIRMATION": "false", "MAIL_FROM": "bench@partnermatch.test"}
    return redis_process, env


def noop_round_trips(celery, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        celery.send_task("partnermatch.noop").get(timeout=30)
        times.append(time.perf_counter() - start)
    return times


def email_round_trips(client, mailbox, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        before = len(mailbox.messages)
        start = time.perf_counter()
        assert client.post("/api/v1/profiles", json=LEEDS).status_code == 201
        while len(mailbox.messages) == before:
            time.sleep(0.002)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    os.chdir(PROJECT_ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        redis_process, env = prepare(Path(tmp))
        controller, mailbox = start_smtp()
        env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(controller.port))
        worker = CeleryProcess.worker(env, Path(tmp) / "worker.log")
        try:
            report(env, mailbox, args.runs)
        finally:
            worker.stop()
            controller.stop()
            redis_process.terminate()
            redis_process.wait(timeout=10)


def report(env: dict[str, str], mailbox, runs: int) -> None:
    from services.api.app import create_app
    from services.worker.app import create_celery

    celery = create_celery(load_settings(env))
    noop_round_trips(celery, 3)  # warm-up: worker started, connections open
    client = create_app(env).test_client()
    email_round_trips(client, mailbox, 2)  # warm-up: each pool process builds its index
    noop = noop_round_trips(celery, runs)
    e2e = email_round_trips(client, mailbox, runs)
    print(f"{'':34}{'p50 ms':>10}{'p95 ms':>10}")
    for name, values in (("no-op task round trip (ceiling)", noop),
                         ("confirmed POST → email at SMTP", e2e)):
        print(f"{name:34}{statistics.median(values) * 1000:10.1f}"
              f"{percentile(values, 0.95) * 1000:10.1f}")
    print(f"ratio p50 e2e / no-op: {statistics.median(e2e) / statistics.median(noop):.1f} "
          f"(target ≤ 8); p95 e2e {percentile(e2e, 0.95) * 1000:.0f} ms (target < 1000)")


if __name__ == "__main__":
    main()
