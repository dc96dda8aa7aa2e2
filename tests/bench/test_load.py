"""bench.load (F13) at a small scale: the same stack, burst, drain and checks as the 1,000 run.

The run starts gunicorn, a celery worker, beat, redis-server and an SMTP server, on SQLite and (when
TEST_DATABASE_URL is set) PostgreSQL. The checks themselves are tried on made-up observations too,
so that a lost submission, a second email or a 5xx is known to fail the benchmark.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from bench.load import (
    Answer,
    Backlog,
    Delivery,
    Observed,
    Plan,
    Sample,
    Stored,
    figures,
    judge,
    run,
)

SUBMISSIONS = 60


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_burst_is_stored_matched_and_emailed_once_each(kind, reference_dir):
    server = os.environ.get("TEST_DATABASE_URL")
    if kind == "postgresql" and not server:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    lines: list[str] = []
    seen = run(kind, server, Plan(SUBMISSIONS, concurrency=8, timeout=40, settle=2),
               log=lines.append)
    failed = [f"{c.name}: {c.detail}" for c in judge(seen) if not c.ok]
    assert not failed, "\n".join(failed + lines + figures(seen))
    assert len(seen.answers) == SUBMISSIONS
    assert sum(len(rcpts) for _, rcpts, _ in seen.arrivals) >= SUBMISSIONS


# -- the checks bite: made-up observations of three submissions ----------------------------------


def _observed() -> Observed:
    ids = [f"p{n}" for n in range(3)]
    addresses = [f"officer-{n}@load.gov.uk" for n in range(3)]
    answers = [Answer(a, started=1.0, latency=0.01, status=201, profile_id=p)
               for p, a in zip(ids, addresses, strict=True)]
    deliveries = [Delivery(p, "recommendations", "sent", f"<d{p}@x>", a)
                  for p, a in zip(ids, addresses, strict=True)]
    rows = Stored(
        profiles={p: (a, "E08000035") for p, a in zip(ids, addresses, strict=True)},
        topics={p: ["profile.submitted"] for p in ids}, unconsumed_events=0,
        runs={p: ["ready"] for p in ids}, deliveries=deliveries, dead_letters=0,
        relay_republished=0, repeated_attempts=0)
    arrivals = [(2.0, (d.to_address,), d.message_id) for d in deliveries]
    busy = [Sample(1.5, 200, depth=3, unconsumed=3), Sample(2.5, 200)]
    return Observed("sqlite", 3, answers, 1.0, 1.2, 2.6, Backlog(3, 3, 0, 0, 0, 0), arrivals,
                    rows, ops=busy, metrics=busy)


def _failed(seen: Observed) -> set[str]:
    return {c.name for c in judge(seen) if not c.ok}


def test_the_checks_pass_a_clean_run():
    assert _failed(_observed()) == set()


def test_an_email_received_twice_fails():
    seen = _observed()
    seen.arrivals.append(seen.arrivals[0])
    assert _failed(seen) == {
        "each submission's recommendation emailed exactly once (at the SMTP server)",
        "every email received is one sent delivery, received once"}


def test_a_lost_submission_fails():
    seen = _observed()
    del seen.rows.topics["p1"], seen.rows.runs["p1"]
    seen.rows.deliveries.pop(1)
    seen.arrivals.pop(1)
    assert {"each submission has exactly one outbox row (profile.submitted)",
            "each submission matched exactly once (one MatchRun, ready)",
            "each submission owed exactly one recommendation email, sent",
            "each submission's recommendation emailed exactly once (at the SMTP server)",
            } <= _failed(seen)


def test_a_second_match_or_email_owed_fails():
    seen = _observed()
    seen.rows.runs["p0"].append("ready")
    seen.rows.deliveries.append(Delivery("p0", "recommendations", "sent", "<again@x>",
                                         "officer-0@load.gov.uk"))
    assert {"each submission matched exactly once (one MatchRun, ready)",
            "each submission owed exactly one recommendation email, sent",
            "every email received is one sent delivery, received once"} <= _failed(seen)


def test_errors_and_leftovers_fail():
    seen = _observed()
    seen.answers[0] = replace(seen.answers[0], status=503, profile_id=None)
    seen.left = Backlog(2, 2, 0, 0, queued=1, unacked=0)
    seen.rows.dead_letters = 1
    seen.drained_at = None
    assert {"no 5xx", "no dead letters", "backlog drained within the time bound",
            "queues empty (LLEN 0 on every queue, nothing unacked)"} <= _failed(seen)
