"""Load (F13): a burst of council submissions against the real stack, each followed to its email.

Starts, on loopback: a private redis-server, a fresh database (a PostgreSQL database created on
the server named by ``--postgres`` or ``TEST_DATABASE_URL``, or SQLite) with the council register
and the demo profiles as candidates, an SMTP server (aiosmtpd, in this process), the API under
gunicorn with the production settings (``partnermatch.config.gunicorn``: 2 workers x 4 threads), one
``celery worker`` (prefork, concurrency 2) and ``celery beat`` (the outbox relay every 5 s), all
with ``PARTNERMATCH_ENV=production`` and the production defaults but for two deliberate choices,
printed at the start:

- every request comes from one loopback address, so the per-client submission limit
  (``RATE_LIMIT_SUBMIT``, 30/minute in production) is raised to let the burst through; the
  limiter still counts each request in Redis;
- email confirmation stays required (the production default), and the contacts are returning
  officers whose addresses were confirmed before the burst (``contact_addresses`` rows written
  beforehand), so the recommendation email is the one email each submission owes (besides
  which a strong newcomer may owe earlier submitters one "new partner" email, at most one per
  council a day).

Then ``--submissions`` distinct council profiles (``bench.synthetic`` requests, each its own
address) are POSTed to ``/api/v1/profiles`` at once from ``--concurrency`` threads on keep-alive
connections, while two threads read ``/ops/figures.json`` and ``/metrics`` with the ops token.
When the backlog has drained (outbox consumed, no email pending or being sent, every email
sent at the SMTP server, queues empty, nothing unacknowledged) or ``--timeout`` has passed, the
run is judged from the HTTP answers, the database and the SMTP server: each check prints PASS or
FAIL and any FAIL makes the exit status 1. Figures: request latency, burst rate, submission →
email latency, drain time, the peak queue depth seen by ops and metrics, and how much work the
relay duplicated. The API, worker and beat logs are copied to a folder under the temporary
directory, named in the output.

Run: ``python -m bench.load [--submissions 1000] [--concurrency 32] [--database postgresql]
[--timeout 600]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import redis
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from bench import PROJECT_ROOT
from bench.e2e import percentile, seed
from bench.intake import served, stop
from bench.stack import api_env, broker, fresh_database, postgres_server, service_env
from bench.synthetic import Profiles
from partnermatch.services.api.ops.queues import queue_depths
from partnermatch.services.embedded import API_APP as API
from partnermatch.services.embedded import free_port
from partnermatch.shared.db.engine import (
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    transaction,
)
from partnermatch.shared.db.models import (
    ContactAddress,
    Council,
    DeadLetter,
    EmailDelivery,
    MatchRun,
    OutboxEvent,
    Profile,
    TaskAttempt,
    utcnow,
)
from partnermatch.shared.db.statuses import DeliveryStatus, RunStatus
from partnermatch.shared.reference.register import place_of
from tests.processes import CeleryProcess, Mailbox

RATE_LIMIT = "1000000/minute"  # one client sends everything: the per-client limit must not bite
OPS_TOKEN = "bench-load-ops-token-0123456789abcdef"
REQUEST_TIMEOUT = 30.0
POLL_SECONDS = 0.2
SAMPLE_SECONDS = 0.25
MAIL_DOMAIN = "load.gov.uk"  # inside ALLOWED_EMAIL_DOMAINS; the mail goes to the local server


# -- the SMTP server ---------------------------------------------------------------------------


class TimedMailbox(Mailbox):
    """The test mailbox, also noting when each message arrived and for whom."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, tuple[str, ...], str]] = []  # time, rcpts, Message-ID
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            with self._lock:
                self.arrivals.append((time.perf_counter(), tuple(envelope.rcpt_tos),
                                      str(self.messages[-1].get("Message-ID", ""))))
        return answer

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)


def start_mailbox() -> tuple[Controller, TimedMailbox]:
    mailbox = TimedMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, mailbox


# -- the submissions -----------------------------------------------------------------------------


def bodies(database_url: str, count: int, run: str) -> list[dict]:
    """Return ``count`` distinct valid council profiles, each with its own contact address."""
    engine = make_engine(database_url)
    with make_read_sessionmaker(engine)() as session:
        places = [place_of(c) for c in session.scalars(select(Council))]
    engine.dispose()
    found = []
    for number, request in enumerate(Profiles(places).requests(count, seed=7)):
        found.append({
            "kind": "council", "gss_code": request.gss_code, "contact_name": f"Officer {number}",
            "contact_email": f"officer-{run}-{number:05d}@{MAIL_DOMAIN}",
            "share_contact": number % 2 == 0, "ratings": request.ratings,
            "needs_text": request.needs_text, "seeking": list(request.seeking),
            "capacity_to_support": ("none", "limited", "available")[number % 3],
        })
    return found


def preconfirm(database_url: str, addresses: list[str]) -> None:
    """Record the addresses as confirmed before the burst (officers who confirmed before)."""
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        session.add_all(ContactAddress(email=a, confirmed_at=utcnow()) for a in addresses)
    engine.dispose()


@dataclass
class Answer:
    """One submission's HTTP exchange."""

    address: str
    started: float
    latency: float = 0.0
    status: int = 0  # 0: no HTTP answer (see error)
    profile_id: str | None = None
    error: str = ""


def burst(url: str, payloads: list[dict], concurrency: int, deadline: float) -> list[Answer]:
    """POST every payload once, from `concurrency` threads on keep-alive connections."""
    parts = urlsplit(url)
    answers: list[Answer] = []
    lock = threading.Lock()
    pending = iter(payloads)
    start = threading.Barrier(concurrency)

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port,
                                                timeout=REQUEST_TIMEOUT)
        start.wait()
        while time.perf_counter() < deadline:
            with lock:
                payload = next(pending, None)
            if payload is None:
                break
            answer = _post(connection, parts.path, payload)
            with lock:
                answers.append(answer)
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.perf_counter()) + REQUEST_TIMEOUT)
    with lock:
        return list(answers)


def _post(connection: http.client.HTTPConnection, path: str, payload: dict) -> Answer:
    answer = Answer(payload["contact_email"], time.perf_counter())
    try:
        connection.request("POST", path, json.dumps(payload).encode(),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read()
        answer.status = response.status
        if response.status == 201:
            answer.profile_id = json.loads(body)["id"]
        else:
            answer.error = body[:200].decode(errors="replace")
    except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
        connection.close()  # the next request opens a new connection
        answer.error = repr(error)
    answer.latency = time.perf_counter() - answer.started
    return answer


# -- watching the backlog through ops and metrics -------------------------------------------------


@dataclass
class Sample:
    """One reading of /ops/figures.json or /metrics."""

    at: float
    status: int
    depth: int = 0  # messages waiting in the matching, email and events queues
    unacked: int = 0
    unconsumed: int = 0  # outbox events not yet consumed
    match_tasks: int = 0  # match tasks finished, by /metrics (succeeded + failed + retried)


def read_ops(connection: http.client.HTTPConnection) -> Sample:
    status, body = _get(connection, "/ops/figures.json")
    if status != 200:
        return Sample(time.perf_counter(), status)
    found = json.loads(body)
    return Sample(time.perf_counter(), status, sum(found["queue_depths"].values()),
                  found["unacked"], found["outbox_unconsumed"])


METRIC = re.compile(r'^(partnermatch_\w+)(?:\{([^}]*)\})? ([0-9.eE+-]+)$', re.MULTILINE)


def read_metrics(connection: http.client.HTTPConnection) -> Sample:
    status, body = _get(connection, "/metrics")
    if status != 200:
        return Sample(time.perf_counter(), status)
    sample = Sample(time.perf_counter(), status)
    for name, labels, value in METRIC.findall(body.decode()):
        if name == "partnermatch_queue_depth":
            sample.depth += int(float(value))
        elif name == "partnermatch_queue_unacked":
            sample.unacked = int(float(value))
        elif name == "partnermatch_outbox_unconsumed":
            sample.unconsumed = int(float(value))
        elif name == "partnermatch_tasks_total" and "match_profile" in labels:
            sample.match_tasks += int(float(value))
    return sample


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {OPS_TOKEN}"})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        return 0, b""


class Watcher:
    """Read one ops endpoint over and over on its own thread until stopped."""

    def __init__(self, url: str, read: Callable[[http.client.HTTPConnection], Sample]):
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port,
                                                     timeout=REQUEST_TIMEOUT)
        self.read = read
        self.samples: list[Sample] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.samples.append(self.read(self.connection))
            self.stopping.wait(SAMPLE_SECONDS)

    def stop(self) -> list[Sample]:
        self.stopping.set()
        self.thread.join(REQUEST_TIMEOUT + 5)
        self.connection.close()
        return self.samples


# -- waiting for the drain, and what the database says afterwards ----------------------------------


@dataclass
class Backlog:
    """What is left to do, by the database and by Redis."""

    recommendations_sent: int
    emails_sent: int
    unconsumed: int
    pending_emails: int
    queued: int
    unacked: int

    def empty(self, received: int) -> bool:
        """Say whether nothing is left to do: every event consumed, every email settled and at
        the SMTP server, no message waiting or being worked on."""
        return (received >= self.emails_sent and self.unconsumed == 0
                and self.pending_emails == 0 and self.queued == 0 and self.unacked == 0)


def backlog(readers, broker_client: redis.Redis) -> Backlog:
    with readers() as session:
        sent = dict(session.execute(
            select(EmailDelivery.purpose, func.count())
            .where(EmailDelivery.status == DeliveryStatus.SENT)
            .group_by(EmailDelivery.purpose)).all())
        unconsumed = session.scalar(select(func.count()).select_from(OutboxEvent)
                                    .where(OutboxEvent.consumed_at.is_(None)))
        pending = session.scalar(select(func.count()).select_from(EmailDelivery)
                                 .where(EmailDelivery.status.in_((DeliveryStatus.PENDING,
                                                                DeliveryStatus.SENDING))))
    return Backlog(sent.get("recommendations", 0), sum(sent.values()), unconsumed, pending,
                   sum(queue_depths(broker_client).values()), broker_client.hlen("unacked"))


def drain(readers, broker_client: redis.Redis, mailbox: TimedMailbox,
          deadline: float) -> tuple[float | None, Backlog]:
    """Wait until nothing is left to do; return when, and what is left. Counts only: `judge`
    checks afterwards that every submission got its email, once."""
    while True:
        left = backlog(readers, broker_client)
        if left.empty(mailbox.count()):
            return time.perf_counter(), left
        if time.perf_counter() > deadline:
            return None, left
        time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class Delivery:
    profile_id: str | None
    purpose: str
    status: str
    message_id: str
    to_address: str | None


@dataclass
class Stored:
    """Rows about the benchmark's profiles."""

    profiles: dict[str, tuple[str, str]]  # id → (contact address, GSS code), at bench addresses
    topics: dict[str, list[str]]  # profile id → topics of its outbox events
    unconsumed_events: int
    runs: dict[str, list[str]]  # profile id → statuses of its match runs
    deliveries: list[Delivery]  # every email delivery in the database
    dead_letters: int
    relay_republished: int  # outbox events the relay published again (publish_count summed)
    repeated_attempts: int  # task keys that ran more than once


def stored(readers) -> Stored:
    with readers() as session:
        profiles = {i: (address, gss) for i, address, gss in session.execute(
            select(Profile.id, Profile.contact_email, Profile.gss_code)
            .where(Profile.contact_email.like(f"%@{MAIL_DOMAIN}")))}
        topics: dict[str, list[str]] = {}
        for profile_id, topic in session.execute(select(OutboxEvent.profile_id,
                                                        OutboxEvent.topic)):
            topics.setdefault(profile_id, []).append(topic)
        runs: dict[str, list[str]] = {}
        for profile_id, status in session.execute(select(MatchRun.profile_id, MatchRun.status)):
            runs.setdefault(profile_id, []).append(status)
        deliveries = [Delivery(*row) for row in session.execute(select(
            EmailDelivery.profile_id, EmailDelivery.purpose, EmailDelivery.status,
            EmailDelivery.message_id, EmailDelivery.to_address))]
        return Stored(
            profiles, topics,
            session.scalar(select(func.count()).select_from(OutboxEvent)
                           .where(OutboxEvent.consumed_at.is_(None))),
            runs, deliveries,
            session.scalar(select(func.count()).select_from(DeadLetter)),
            session.scalar(select(func.coalesce(func.sum(OutboxEvent.publish_count), 0))),
            session.scalar(select(func.count()).select_from(TaskAttempt)
                           .where(TaskAttempt.attempts > 1)),
        )


# -- judging -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Observed:
    """Everything a run saw; `judge` turns it into checks and `figures` into numbers."""

    database: str
    submissions: int
    answers: list[Answer]
    burst_began: float
    burst_ended: float
    drained_at: float | None
    left: Backlog
    arrivals: list[tuple[float, tuple[str, ...], str]]
    rows: Stored
    ops: list[Sample] = field(default_factory=list)
    metrics: list[Sample] = field(default_factory=list)


def judge(seen: Observed) -> list[Check]:
    """Return each invariant of F13 as a check, from the HTTP answers, database and mailbox."""
    return [*_http_checks(seen), *_row_checks(seen), *_mail_checks(seen), *_drain_checks(seen)]


def _http_checks(seen: Observed) -> list[Check]:
    statuses = Counter(a.status for a in seen.answers)
    answered = len(seen.answers)
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    other = answered - statuses[201] - server_errors
    first_error = next((f"{a.status} {a.error}" for a in seen.answers if a.status != 201), "")
    ops_bad = Counter(s.status for s in seen.ops + seen.metrics if s.status != 200)
    return [
        Check("every submission sent and answered", answered == seen.submissions,
              f"{answered} of {seen.submissions}"),
        Check("no 5xx", server_errors == 0, f"{server_errors} 5xx; statuses {dict(statuses)}"),
        Check("no other errors (4xx, connection)", other == 0,
              f"{other}; first: {first_error[:160]}" if other else "every answer 201"),
        Check("ops and metrics answered 200 throughout",
              bool(seen.ops) and bool(seen.metrics) and not ops_bad,
              f"{len(seen.ops)} ops + {len(seen.metrics)} metrics readings; "
              f"not 200: {dict(ops_bad)}"),
        Check("queue depth visible in ops and metrics",
              any(s.depth + s.unacked + s.unconsumed for s in seen.ops)
              and any(s.depth + s.unacked + s.unconsumed for s in seen.metrics),
              f"peak waiting: ops {_peak(seen.ops)}, metrics {_peak(seen.metrics)}"),
    ]


def _peak(samples: list[Sample]) -> str:
    return (f"queues {max((s.depth for s in samples), default=0)}, "
            f"unacked {max((s.unacked for s in samples), default=0)}, "
            f"outbox {max((s.unconsumed for s in samples), default=0)}")


SUBMITTED = "profile.submitted"
REFRESH = "partners.refresh"  # a strong newcomer's re-ranking of others, if the service has it
NEW_PARTNER = "new_partner"  # the email it may owe: at most one per council a day


def _row_checks(seen: Observed) -> list[Check]:
    rows = seen.rows
    accepted = {a.profile_id: a.address for a in seen.answers if a.profile_id}
    submitted = Counter(rows.topics.get(p, []).count(SUBMITTED) for p in accepted)
    others = Counter(t for p in accepted for t in rows.topics.get(p, []) if t != SUBMITTED)
    runs = Counter(tuple(rows.runs.get(p, ())) for p in accepted)
    mine = [d for d in rows.deliveries if d.profile_id in accepted]
    owed = Counter(p for d in mine
                   if d.purpose == "recommendations" and d.status == DeliveryStatus.SENT
                   for p in [d.profile_id])
    recommendations = Counter(owed.get(p, 0) for p in accepted)
    councils = Counter(rows.profiles[d.profile_id][1] for d in mine if d.purpose == NEW_PARTNER)
    unexpected = Counter((d.purpose, d.status) for d in rows.deliveries
                         if d.status != DeliveryStatus.SENT or d.purpose not in ("recommendations",
                                                                    NEW_PARTNER))
    stray = {p for p in rows.profiles if p not in accepted}
    return [
        Check("each accepted submission stored, nothing else",
              set(rows.profiles) == set(accepted) and all(
                  rows.profiles[p][0] == address for p, address in accepted.items()),
              f"{len(rows.profiles)} stored, {len(accepted)} accepted, "
              f"{len(stray)} stored without a 201"),
        Check("each submission has exactly one outbox row (profile.submitted)",
              submitted == Counter({1: len(accepted)})
              and set(others) <= {REFRESH} and others[REFRESH] <= len(accepted),
              _spread(submitted, "submitted events") + f"; other events: {dict(others)}"),
        Check("each submission matched exactly once (one MatchRun, ready)",
              runs == Counter({(RunStatus.READY,): len(accepted)}), _spread(runs, "runs")),
        Check("each submission owed exactly one recommendation email, sent",
              recommendations == Counter({1: len(accepted)}),
              _spread(recommendations, "recommendation deliveries sent")),
        Check("no other email owed (new-partner emails: at most one per council)",
              not unexpected and all(n == 1 for n in councils.values()),
              f"{sum(councils.values())} new-partner emails to {len(councils)} councils; "
              f"others: {dict(unexpected)}"),
        Check("no dead letters", rows.dead_letters == 0, f"{rows.dead_letters}"),
    ]


def _spread(counts: Counter, what: str) -> str:
    shown = ", ".join(f"{n} with {k!r}" for k, n in counts.most_common(4))
    return f"{what} per submission: {shown}"


def _mail_checks(seen: Observed) -> list[Check]:
    accepted = {a.address for a in seen.answers if a.profile_id}
    sent = {d.message_id: d for d in seen.rows.deliveries if d.status == DeliveryStatus.SENT}
    ids = Counter(message_id for _, _, message_id in seen.arrivals)
    recommendation_to = Counter(r for _, rcpts, message_id in seen.arrivals for r in rcpts
                                if message_id in sent
                                and sent[message_id].purpose == "recommendations")
    per_address = Counter(recommendation_to.get(a, 0) for a in accepted)
    misaddressed = sum(1 for _, rcpts, message_id in seen.arrivals
                       if message_id not in sent or rcpts != (sent[message_id].to_address,))
    return [
        Check("each submission's recommendation emailed exactly once (at the SMTP server)",
              per_address == Counter({1: len(accepted)}),
              f"recommendation emails per address: {dict(sorted(per_address.items()))}"),
        Check("every email received is one sent delivery, received once",
              set(ids) == set(sent) and all(n == 1 for n in ids.values()) and not misaddressed,
              f"{len(seen.arrivals)} emails received, {len(sent)} deliveries sent; "
              f"{sum(n - 1 for n in ids.values())} repeated, {len(set(sent) - set(ids))} "
              f"never received, {misaddressed} unknown or misaddressed"),
    ]


def _drain_checks(seen: Observed) -> list[Check]:
    left = seen.left
    return [
        Check("backlog drained within the time bound", seen.drained_at is not None,
              f"{_seconds(seen.drained_at, seen.burst_ended)} after the burst"),
        Check("queues empty (LLEN 0 on every queue, nothing unacked)",
              left.queued == 0 and left.unacked == 0,
              f"waiting {left.queued}, unacked {left.unacked}"),
        Check("outbox drained, no email pending",
              seen.rows.unconsumed_events == 0 and left.pending_emails == 0,
              f"unconsumed {seen.rows.unconsumed_events}, pending {left.pending_emails}"),
    ]


def _seconds(moment: float | None, since: float) -> str:
    return "never" if moment is None else f"{moment - since:.1f} s"


# -- figures -------------------------------------------------------------------------------------


def figures(seen: Observed) -> list[str]:
    """Return the lines of figures: latencies, rates, drain, peak depth."""
    latencies = [a.latency for a in seen.answers if a.status]
    started = {a.address: a.started for a in seen.answers if a.profile_id}
    recommendations = {d.message_id for d in seen.rows.deliveries
                       if d.purpose == "recommendations"}
    to_email = [at - started[r] for at, rcpts, message_id in seen.arrivals for r in rcpts
                if r in started and message_id in recommendations]
    last_email = max((at for at, _, _ in seen.arrivals), default=None)
    span = seen.burst_ended - seen.burst_began
    matches = max((s.match_tasks for s in seen.metrics), default=0)
    purposes = Counter(d.purpose for d in seen.rows.deliveries if d.status == DeliveryStatus.SENT)
    refreshes = sum(t.count(REFRESH) for t in seen.rows.topics.values())
    return [
        f"request latency ms: {_percentiles(latencies, 1000, '.0f')} (n={len(latencies)})",
        f"burst: {len(seen.answers)} submissions in {span:.2f} s = "
        f"{len(seen.answers) / span if span else 0:.0f} req/s",
        f"submission → its recommendation email at SMTP, s: "
        f"{_percentiles(to_email, 1, '.2f')} (n={len(to_email)})",
        f"drain: last email {_seconds(last_email, seen.burst_ended)} after the burst ended "
        f"({_seconds(last_email, seen.burst_began)} after it began); backlog empty at "
        f"{_seconds(seen.drained_at, seen.burst_began)}; "
        f"{len(seen.arrivals) / (last_email - seen.burst_began) if last_email else 0:.1f} "
        "emails/s overall",
        f"peak backlog seen by /ops/figures.json: {_peak(seen.ops)} ({len(seen.ops)} readings)",
        f"peak backlog seen by /metrics:          {_peak(seen.metrics)} "
        f"({len(seen.metrics)} readings)",
        f"emails sent by purpose: {dict(purposes)}; refresh events: {refreshes}",
        f"match tasks run (metrics): {matches} for {len(started)} submissions; outbox events "
        f"re-published by the relay: {seen.rows.relay_republished}; task keys run more than "
        f"once: {seen.rows.repeated_attempts}",
    ]


def _percentiles(values: list[float], scale: float, spec: str) -> str:
    if not values:
        return "none"
    return " / ".join(f"p{int(q * 100)} {format(percentile(values, q) * scale, spec)}"
                      for q in (0.5, 0.95, 0.99))


# -- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What to run: how many submissions, from how many threads, within how long."""

    submissions: int = 1000
    concurrency: int = 32
    timeout: float = 600.0  # seconds for the burst and the drain together
    worker_concurrency: int = 2
    settle: float = 6.0  # seconds to wait after the drain for a late duplicate to show
    keep_logs: Path | None = None  # a folder to copy the API, worker and beat logs to


def describe(plan: Plan, kind: str) -> str:
    return (f"load, {kind}: {plan.submissions} council submissions in a burst from "
            f"{plan.concurrency} keep-alive connections; gunicorn 2 workers x 4 threads, "
            f"celery worker --concurrency {plan.worker_concurrency} and beat; bound "
            f"{plan.timeout:.0f} s\n"
            f"  deliberate settings: RATE_LIMIT_SUBMIT={RATE_LIMIT} (production 30/minute per "
            "client; every request here comes from 127.0.0.1); REQUIRE_EMAIL_CONFIRMATION on, "
            "the submitters' addresses confirmed in the database before the burst")


def run(kind: str, server: str | None, plan: Plan, log: Callable[[str], None] = print
        ) -> Observed:
    """Start the stack on one database, fire the burst, wait for the drain; return what was seen."""
    os.chdir(PROJECT_ROOT)
    with tempfile.TemporaryDirectory() as tmp, fresh_database(kind, Path(tmp), server) as url, \
            broker(Path(tmp)) as redis_url:
        workdir = Path(tmp)
        seed(url)
        payloads = bodies(url, plan.submissions, os.urandom(3).hex())
        preconfirm(url, [p["contact_email"] for p in payloads])
        controller, mailbox = start_mailbox()
        metrics_dir = workdir / "prometheus"
        metrics_dir.mkdir()
        env = api_env(service_env(
            url, redis_url, workdir, PARTNERMATCH_ENV="production", OPS_TOKEN=OPS_TOKEN,
            ALLOW_HTTP_PUBLIC_BASE_URL="true",  # the whole run is on the loopback interface
            SMTP_HOST="127.0.0.1", SMTP_PORT=str(controller.port), RATE_LIMIT_SUBMIT=RATE_LIMIT,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)))
        worker = CeleryProcess.worker(env, workdir / "worker.log", plan.worker_concurrency)
        beat = CeleryProcess.beat(env, workdir / "beat.log", workdir / "var")
        api = None
        try:
            api, profiles_url = served(API, env, workdir / "api.log")
            worker.wait_for_log("ready", timeout=60)
            return _measure(kind, url, redis_url, profiles_url, payloads, mailbox, plan, log)
        except BaseException:
            _show_logs(workdir, log)
            raise
        finally:
            if api is not None:
                stop(api)
            beat.stop()
            worker.stop()
            controller.stop()
            _keep_logs(workdir, plan.keep_logs, log)


def _measure(kind: str, url: str, redis_url: str, profiles_url: str, payloads: list[dict],
             mailbox: TimedMailbox, plan: Plan, log: Callable[[str], None]) -> Observed:
    engine = make_engine(url)
    readers = make_read_sessionmaker(engine)  # polling never takes SQLite's write lock
    broker_client = redis.Redis.from_url(redis_url)
    ops, metrics = Watcher(profiles_url, read_ops), Watcher(profiles_url, read_metrics)
    try:
        began = time.perf_counter()
        deadline = began + plan.timeout
        answers = burst(profiles_url, payloads, plan.concurrency, deadline)
        ended = time.perf_counter()
        log(f"  burst done in {ended - began:.1f} s; waiting for the backlog to drain")
        drained_at, left = drain(readers, broker_client, mailbox, deadline)
        if drained_at is None:
            log(f"  not drained within the bound: {left}")
        if drained_at is not None:
            time.sleep(plan.settle)  # a duplicate sent late would show now
            left = backlog(readers, broker_client)
        return Observed(kind, plan.submissions, answers, began, ended, drained_at, left,
                        list(mailbox.arrivals), stored(readers), ops.stop(), metrics.stop())
    finally:
        ops.stopping.set()
        metrics.stopping.set()
        broker_client.close()
        engine.dispose()


def _keep_logs(workdir: Path, folder: Path | None, log: Callable[[str], None]) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("api.log", "worker.log", "beat.log"):
        if (workdir / name).exists():
            shutil.copy(workdir / name, folder / name)
    log(f"  logs kept in {folder}")


def _show_logs(workdir: Path, log: Callable[[str], None]) -> None:
    for name in ("api.log", "worker.log", "beat.log"):
        path = workdir / name
        if path.exists():
            log(f"--- last lines of {name} ---")
            for line in path.read_text(errors="replace").splitlines()[-15:]:
                log(line)


def report(seen: Observed, checks: list[Check], log: Callable[[str], None] = print) -> None:
    for line in figures(seen):
        log(f"  {line}")
    for check in checks:
        log(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=Plan.submissions)
    parser.add_argument("--concurrency", type=int, default=Plan.concurrency,
                        help="client threads, each with one keep-alive connection")
    parser.add_argument("--timeout", type=float, default=Plan.timeout,
                        help="seconds allowed for the burst and the drain")
    parser.add_argument("--worker-concurrency", type=int, default=Plan.worker_concurrency)
    parser.add_argument("--database", choices=("postgresql", "postgres", "sqlite"),
                        action="append")
    parser.add_argument("--postgres", help="server to create a database on "
                        "(default: TEST_DATABASE_URL)")
    args = parser.parse_args(argv)
    server = postgres_server(args.postgres)
    kinds = [{"postgres": "postgresql"}.get(k, k)
             for k in args.database or (["postgresql", "sqlite"] if server else ["sqlite"])]
    if "postgresql" in kinds and not server:
        parser.error("PostgreSQL needs --postgres or TEST_DATABASE_URL")
    failed = False
    for kind in kinds:
        logs = Path(tempfile.gettempdir()) / f"bench-load-{kind}-{time.strftime('%H%M%S')}"
        plan = Plan(args.submissions, args.concurrency, args.timeout, args.worker_concurrency,
                    keep_logs=logs)
        print(describe(plan, kind), flush=True)
        seen = run(kind, server, plan, log=lambda line: print(line, flush=True))
        checks = judge(seen)
        report(seen, checks)
        failed |= not all(c.ok for c in checks)
    print("FAIL" if failed else "PASS: every check held")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
