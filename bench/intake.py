"""Intake: POST /api/v1/profiles under gunicorn, beside a bare Flask app that only validates.

Each app runs as a real ``gunicorn`` subprocess with the production settings
(``partnermatch.config.gunicorn``: 2 workers, gthread) on loopback. The full app validates, stores
the profile, its version, its outbox event and the confirmation email owed (production default),
publishes after commit to a private Redis and counts the submission against the rate limit there
(the limit raised so that it never refuses). Its ceiling, on each database, is ``bench.durable``:
the minimal durable intake (the same validation, one INSERT and COMMIT on the same database, one
Redis LPUSH). ``bench.bare``, which validates and stores nothing, is measured too, for scale.
Requests per second and p99 latency come from ``wrk`` (C, one thread, so it takes little of the
servers' CPU) when it is on PATH (Debian: ``apt-get install wrk``), else from a Python client of
keep-alive connections on threads, which takes more.

Run: ``python -m bench.intake [--seconds 10] [--database postgresql --database sqlite]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import PROJECT_ROOT
from bench.loadgen import python_load
from bench.stack import api_env, broker, fresh_database, postgres_server, service_env
from partnermatch.services.embedded import API_APP as API
from partnermatch.services.embedded import free_port

BODY = {
    "kind": "council", "gss_code": "E08000035", "contact_name": "Sam Officer",
    "contact_email": "sam.officer@leeds.gov.uk", "share_contact": True,
    "ratings": {"childrens_services": 1, "adult_social_care": 2, "waste": 5},
    "needs_text": "Care leavers in suitable accommodation", "seeking": ["council", "supplier"],
    "capacity_to_support": "limited",
}
CONNECTIONS = 16
WARM_UP_SECONDS = 2.0


@dataclass(frozen=True)
class Load:
    """What a load run measured."""

    requests_per_second: float
    p99_ms: float
    failures: int


def served(app: str, env: dict[str, str], log: Path):
    """Start gunicorn with the production settings serving `app`; return it once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--config", "python:partnermatch.config.gunicorn",
               "--bind", f"127.0.0.1:{port}", "--workers", "2", app]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=PROJECT_ROOT,
                               stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, f"http://127.0.0.1:{port}/api/v1/profiles"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"gunicorn serving {app} did not start; see {log}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wrk_load(url: str, seconds: float, workdir: Path) -> Load:
    """Drive `url` with wrk for `seconds`; parse requests/s, p99 and non-2xx answers."""
    script = workdir / "post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(BODY))}\n'
                      'wrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True,
                         check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _milliseconds(re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups())
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failures = int(bad.group(1)) if bad else 0
    failures += sum(int(n) for n in errors.groups()) if errors else 0
    return Load(rate, p99, failures)


def _milliseconds(found: tuple[str, str]) -> float:
    value, unit = found
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def drive(url: str, seconds: float, workdir: Path) -> Load:
    """Warm up, then measure, with wrk if present, else the Python client."""
    if shutil.which("wrk"):
        wrk_load(url, WARM_UP_SECONDS, workdir)
        return wrk_load(url, seconds, workdir)
    python_load(url, BODY, WARM_UP_SECONDS, CONNECTIONS)
    return Load(*python_load(url, BODY, seconds, CONNECTIONS))


def load_generator() -> str:
    return "wrk -t1 -c16" if shutil.which("wrk") else "Python threads, 16 keep-alive connections"


def measure_app(app: str, env: dict[str, str], seconds: float, workdir: Path) -> Load:
    process, url = served(app, env, workdir / f"{app.replace(':', '-')}.log")
    try:
        return drive(url, seconds, workdir)
    finally:
        stop(process)


def measure(kinds: list[str], server: str | None, seconds: float) -> dict[str, Load]:
    """Measure the bare app, then on each database the durable ceiling and the full app.

    Keyed "bare", then "<kind> durable" and "<kind>" for each database kind.
    """
    found: dict[str, Load] = {}
    with tempfile.TemporaryDirectory() as tmp, broker(Path(tmp)) as redis_url:
        workdir = Path(tmp)
        found["bare"] = measure_app("bench.bare:app", {}, seconds, workdir)
        for kind in kinds:
            with fresh_database(kind, workdir, server) as url:
                env = api_env(service_env(url, redis_url, workdir))
                found[f"{kind} durable"] = measure_app("bench.durable:app", env, seconds, workdir)
                found[kind] = measure_app(API, env, seconds, workdir)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), action="append")
    parser.add_argument("--postgres", help="server to create a database on "
                        "(default: TEST_DATABASE_URL)")
    args = parser.parse_args(argv)
    server = postgres_server(args.postgres)
    kinds = args.database or (["postgresql", "sqlite"] if server else ["sqlite"])
    found = measure(kinds, server, args.seconds)
    print(f"load: {load_generator()}, {args.seconds:.0f} s each; ratio: to the minimal durable "
          "intake on the same database")
    print(f"{'':36}{'req/s':>9}{'p99 ms':>9}{'ratio':>7}{'failed':>8}")
    for name, load in found.items():
        ceiling = found.get(f"{name} durable", load)
        label = ("bare Flask + marshmallow (no store)" if name == "bare" else
                 f"minimal durable ({name.split()[0]})" if name.endswith(" durable") else
                 f"POST profiles ({name})")
        print(f"{label:36}{load.requests_per_second:9.0f}{load.p99_ms:9.1f}"
              f"{load.requests_per_second / ceiling.requests_per_second:7.2f}{load.failures:8d}")
    print("target: the full app's req/s ≥ 0.5 of the minimal durable intake")


if __name__ == "__main__":
    main()
