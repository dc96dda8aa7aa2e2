"""Prometheus, Grafana and Flower in docker-compose, checked against the metrics that really exist.

The metric names come from real processes, never from a hand list: `partnermatch api` (gunicorn,
two workers, multiprocess mode) and `partnermatch worker --metrics-port` (the prefork pool), on a
real database, Redis and SMTP server, after one council submission has been matched and emailed.
Every alert rule and every dashboard panel may only name metrics found there. The rules and the
Prometheus configuration also go through `promtool` (check and unit tests).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from partnermatch.config.settings import Settings
from partnermatch.services.cli import main as cli
from partnermatch.services.embedded import flower_command, free_port
from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.db.migrate import upgrade
from partnermatch.shared.db.models import utcnow
from partnermatch.shared.operations import figures as ops
from partnermatch.shared.reference.register import load_register
from tests import PROJECT_ROOT
from tests.processes import RedisServer, start_smtp
from tests.services.api.helpers import bearer, council_body

ROOT = PROJECT_ROOT
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
PROMETHEUS_DIR = ROOT / "config" / "prometheus"
GRAFANA_DIR = ROOT / "config" / "grafana"
DASHBOARD_PATH = GRAFANA_DIR / "dashboards" / "partnermatch.json"
OPS_TOKEN = "monitoring-ops-token-0123456789"
FLOWER_PASSWORD = "flower-password-0123456789"
# Series Prometheus makes itself for every target.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                   "group_left", "group_right", "inf", "nan"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
            "summary": ("_count", "_sum", ""), "gauge": ("",)}
# Each figure of /ops/figures.json, and the metric that carries it over time.
OPS_FIGURES = {
    "queue_depths": "partnermatch_queue_depth",
    "unacked": "partnermatch_queue_unacked",
    "workers_online": "partnermatch_workers_online",
    "workers_busy": "partnermatch_workers_busy",
    "outbox_lag_seconds": "partnermatch_outbox_lag_seconds",
    "outbox_unconsumed": "partnermatch_outbox_unconsumed",
    "dead_letters": "partnermatch_dead_letters",
    "deliveries": "partnermatch_email_deliveries",
    "feedback": "partnermatch_feedback_answers",
    "suppliers_awaiting_approval": "partnermatch_suppliers_awaiting_approval",
    "matches_last_hour": "partnermatch_matches_last_hour",
    "latency_p50_seconds": "partnermatch_submit_to_email_seconds",
    "latency_p95_seconds": "partnermatch_submit_to_email_seconds",
}
# /ops raises these alerts; Prometheus must raise them too.
OPS_ALERTS = {"outbox_lag": "PartnermatchOutboxLag", "dead_letters": "PartnermatchDeadLetters"}


# --- the real processes -------------------------------------------------------------------------

@dataclass
class Exposition:
    """What the API and a worker served on /metrics."""

    api: str
    worker: str
    figures: dict[str, Any]

    @property
    def names(self) -> set[str]:
        return exposed_names(self.api) | exposed_names(self.worker)


def exposed_names(text: str) -> set[str]:
    """Every series name a scrape of this text gives, sampled yet or not."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {sample.name for sample in family.samples}
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition (the sum over samples with these labels)."""
    values = [s.value for family in text_string_to_metric_families(text) for s in family.samples
              if s.name == name and labels.items() <= s.labels.items()]
    assert values, f"{name}{labels} not exposed"
    return sum(values)


def get(url: str, token: str | None = None) -> str:
    request = urllib.request.Request(url, headers=bearer(token) if token else {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local test URL
        return response.read().decode()


def get_basic(url: str, user: str, password: str) -> str:
    login = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {login}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local test URL
        return response.read().decode()


def post_json(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local test URL
        return response.status


def wait_for(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OSError:  # not listening yet
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not met in time")


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def running(tmp_path_factory, reference_dir) -> Iterator[dict[str, Any]]:
    """`partnermatch api` and `partnermatch worker --metrics-port` on SQLite, Redis and SMTP."""
    import os

    folder = tmp_path_factory.mktemp("monitoring")
    database = f"sqlite:///{folder / 'partnermatch.db'}"
    upgrade(database)
    engine = make_engine(database)
    with transaction(make_sessionmaker(engine)) as session:
        load_register(session, reference_dir)
    engine.dispose()
    redis_server = RedisServer(folder / "redis")
    controller, mailbox = start_smtp()
    api_port, worker_port, flower_port = free_port(), free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({
        "PARTNERMATCH_ENV": "test", "DATABASE_URL": database, "REDIS_URL": redis_server.url,
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port),
        "MAIL_FROM": "partnermatch@partnermatch.test", "PUBLIC_BASE_URL": "http://localhost",
        "SECRET_KEY": "test-secret-key", "OPS_TOKEN": OPS_TOKEN, "VAR_DIR": str(folder / "var"),
        "REQUIRE_EMAIL_CONFIRMATION": "false", "RATE_LIMIT_SUBMIT": "1000/minute",
    })
    own = str(Path(sys.executable).with_name("partnermatch"))
    api = start([own, "api", "--port", str(api_port), "--workers", "2"], env, folder / "api.log")
    worker = start([own, "worker", "--metrics-port", str(worker_port)], env,
                   folder / "worker.log")
    flower = start([own, "flower", "--port", str(flower_port)],
                   {**env, "FLOWER_BASIC_AUTH": f"ops:{FLOWER_PASSWORD}"}, folder / "flower.log")
    try:
        base = f"http://127.0.0.1:{api_port}"
        wait_for(lambda: get(f"{base}/healthz"), "the API answering")
        wait_for(lambda: get(f"http://127.0.0.1:{worker_port}/metrics"), "worker metrics")
        wait_for(lambda: get(f"http://127.0.0.1:{flower_port}/flower/healthcheck"), "Flower")
        yield {"base": base, "worker": f"http://127.0.0.1:{worker_port}/metrics",
               "flower": f"http://127.0.0.1:{flower_port}", "var": folder / "var",
               "mailbox": mailbox}
    finally:
        stop(flower)
        stop(worker)
        stop(api)
        controller.stop()
        redis_server.stop()


@pytest.fixture(scope="module")
def exposition(running) -> Exposition:
    """The scrapes after one submission was matched and its email sent."""
    assert post_json(f"{running['base']}/api/v1/profiles", council_body()) == 201

    def emailed() -> str | None:
        text = get(running["worker"])
        return text if sample(text, "partnermatch_emails_total", outcome="sent") >= 1 else None

    worker = wait_for(emailed, "the recommendation email counted by the worker")
    api = get(f"{running['base']}/metrics", OPS_TOKEN)
    figures = json.loads(get(f"{running['base']}/ops/figures.json", OPS_TOKEN))
    return Exposition(api=api, worker=worker, figures=figures)


# --- PromQL --------------------------------------------------------------------------------------

def promql_metrics(expression: str) -> set[str]:
    """The metric names a PromQL expression selects (promtool checks its syntax separately)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for found in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[found.end():].lstrip().startswith("(") or found.group(0) in PROMQL_KEYWORDS:
            continue  # a function, an aggregation or an operator
        names.add(found.group(0))
    return names


def test_promql_metrics_finds_selectors_and_skips_the_rest():
    expression = ('histogram_quantile(0.95, sum by (task, le) (rate(a_bucket{x="y{z}"}[5m])))'
                  ' > 1e3 and on (task) b offset 5m or absent(up{job="worker"} == 1) unless c:d')
    assert promql_metrics(expression) == {"a_bucket", "b", "up", "c:d"}


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool not found: install Debian's prometheus package (.ci/run does)"
    return found


def run_promtool(*arguments: str, cwd: Path = PROMETHEUS_DIR) -> str:
    result = subprocess.run([promtool(), *arguments], cwd=cwd, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_PATH.read_text(encoding="utf-8"))


def dashboard_panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in dashboard_panels() for target in panel["targets"]]


# --- what the processes expose -------------------------------------------------------------------

def test_the_worker_serves_tasks_durations_matches_and_emails(exposition):
    worker = exposition.worker
    match = "partnermatch.match_profile"
    assert sample(worker, "partnermatch_tasks_total", task=match, state="succeeded") >= 1
    assert sample(worker, "partnermatch_task_duration_seconds_count", task=match) >= 1
    assert sample(worker, "partnermatch_matches_total", outcome="matched") == 1
    assert sample(worker, "partnermatch_emails_total", outcome="sent") >= 1
    # Series that have not happened yet are there at zero, so rate() and alerts work at once.
    assert sample(worker, "partnermatch_tasks_total", task=match, state="failed") == 0
    assert sample(worker, "partnermatch_emails_total", outcome="ambiguous") == 0


def test_gunicorn_workers_are_counted_together(running):
    """Two gunicorn workers, one /metrics: every request counted once, whichever worker took it."""
    base = running["base"]
    before = sample(get(f"{base}/metrics", OPS_TOKEN), "partnermatch_http_requests_total",
                    endpoint="/healthz")
    for _ in range(20):
        get(f"{base}/healthz")
    after = sample(get(f"{base}/metrics", OPS_TOKEN), "partnermatch_http_requests_total",
                   endpoint="/healthz")
    assert after - before == 20
    folder = running["var"] / "prometheus" / "api"
    assert {path.name.split("_")[0] for path in folder.glob("*.db")} >= {"counter", "histogram"}


def test_metric_names_follow_prometheus_conventions(exposition):
    for text in (exposition.api, exposition.worker):
        for family in text_string_to_metric_families(text):
            assert family.name.startswith("partnermatch_"), family.name
            if family.type == "counter":
                assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
            elif family.type == "histogram":
                assert family.name.endswith("_duration_seconds"), family.name
            else:
                assert family.type == "gauge", family.name
                assert not family.name.endswith("_total"), f"a gauge named as a counter: {family}"


def test_the_ops_figures_keep_their_names(exposition):
    """figures.json is a contract: the metric renames changed none of its keys."""
    assert set(exposition.figures) == {*OPS_FIGURES, "alerts"}
    assert exposition.figures["matches_last_hour"] == 1


# --- Prometheus ----------------------------------------------------------------------------------

def scrape_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    return {job["job_name"]: job for job in config["scrape_configs"]}


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_prometheus_scrapes_the_api_with_the_ops_token():
    services = COMPOSE["services"]
    api = scrape_jobs()["api"]
    [discovery] = api["dns_sd_configs"]
    assert discovery["names"] == ["api"] and discovery["type"] == "A"  # every replica
    assert discovery["port"] == int(option(services["api"]["command"], "--port"))
    assert api["metrics_path"] == "/metrics"
    token_file = api["authorization"]["credentials_file"]
    assert token_file == "/run/secrets/ops_token"
    assert "ops_token" in services["prometheus"]["secrets"]
    assert COMPOSE["secrets"]["ops_token"] == {"environment": "OPS_TOKEN"}


def test_prometheus_scrapes_every_worker():
    worker = COMPOSE["services"]["worker"]
    job = scrape_jobs()["worker"]
    assert "static_configs" not in job
    [discovery] = job["dns_sd_configs"]
    # Docker's DNS answers `worker` with every replica's address: `--scale worker=N` is covered.
    assert discovery["names"] == ["worker"] and discovery["type"] == "A"
    port = option(worker["command"], "--metrics-port")
    assert discovery["port"] == int(port)
    assert port in worker["expose"]
    assert option(worker["command"], "--metrics-host") == "0.0.0.0"  # noqa: S104 - in its container
    assert "ports" not in worker


def test_prometheus_reads_this_folder_and_keeps_its_data():
    prometheus = COMPOSE["services"]["prometheus"]
    assert "./config/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    assert all((PROMETHEUS_DIR / path).is_file() for path in config["rule_files"])
    volume = next(v.split(":")[0] for v in prometheus["volumes"] if v.endswith(":/prometheus"))
    assert volume in COMPOSE["volumes"]


def test_promtool_accepts_the_configuration_and_the_rules():
    run_promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert "SUCCESS: 6 rules found" in run_promtool("check", "rules", "alerts.yml")


def test_the_alerts_fire_when_they_should_and_only_then():
    """config/prometheus/alerts_test.yml: each alert on series that raise it and that do not."""
    assert "SUCCESS" in run_promtool("test", "rules", "alerts_test.yml")


def test_alerts_cover_outbox_lag_dead_letters_no_workers_and_queue_growth():
    rules = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    expected = {
        "PartnermatchOutboxLag": {"partnermatch_outbox_lag_seconds"},
        "PartnermatchDeadLetters": {"partnermatch_dead_letters"},
        "PartnermatchNoWorkers": {"partnermatch_workers_online", "up"},
        "PartnermatchQueueGrowing": {"partnermatch_queue_depth"},
    }
    for name, metrics in expected.items():
        assert promql_metrics(rules[name]) == metrics, name
    # The same thresholds as the alerts on /ops.
    defaults = Settings()
    assert re.search(rf"> {defaults.ALERT_OUTBOX_LAG_SECONDS}\b", rules["PartnermatchOutboxLag"])
    assert re.search(rf">= {defaults.ALERT_DEAD_LETTERS}\b", rules["PartnermatchDeadLetters"])


def test_every_alert_rule_names_metrics_the_services_expose(exposition):
    for rule in alert_rules():
        unknown = promql_metrics(rule["expr"]) - exposition.names - SYNTHETIC
        assert not unknown, f"{rule['alert']} names metrics nothing exposes: {sorted(unknown)}"


def test_prometheus_raises_what_ops_raises():
    defaults = Settings()
    figures = ops.Figures(at=utcnow(), outbox_lag_seconds=defaults.ALERT_OUTBOX_LAG_SECONDS + 1,
                          outbox_unconsumed=1, dead_letters=defaults.ALERT_DEAD_LETTERS,
                          deliveries={}, feedback={}, suppliers_awaiting_approval=0,
                          matches_last_hour=0, latency_p50_seconds=None, latency_p95_seconds=None)
    raised = {alert.name for alert in ops.alerts(figures, defaults.ALERT_OUTBOX_LAG_SECONDS,
                                                 defaults.ALERT_DEAD_LETTERS)}
    assert raised == set(OPS_ALERTS)
    assert set(OPS_ALERTS.values()) <= {rule["alert"] for rule in alert_rules()}


# --- Grafana -------------------------------------------------------------------------------------

def test_every_dashboard_panel_names_metrics_the_services_expose(exposition):
    for panel in dashboard_panels():
        assert panel["targets"], f"{panel['title']} queries nothing"
        for target in panel["targets"]:
            metrics = promql_metrics(target["expr"])
            assert metrics, f"{panel['title']}: {target['expr']}"
            unknown = metrics - exposition.names - SYNTHETIC
            assert not unknown, f"{panel['title']} names metrics nothing exposes: {unknown}"


def test_the_dashboard_shows_every_figure_ops_shows(exposition):
    assert set(exposition.figures) - {"alerts"} == set(OPS_FIGURES)
    shown = set().union(*(promql_metrics(expr) for expr in dashboard_expressions()))
    missing = set(OPS_FIGURES.values()) - shown
    assert not missing, f"on /ops but not on the dashboard: {sorted(missing)}"
    # And over time from the workers' own counters.
    assert {"partnermatch_matches_total", "partnermatch_emails_total",
            "partnermatch_tasks_total"} <= shown


def test_promtool_parses_every_dashboard_query(tmp_path):
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{number}", "expr": expr}
        for number, expr in enumerate(dashboard_expressions())]}]}
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    run_promtool("check", "rules", "dashboard.yml", cwd=tmp_path)


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard():
    grafana = COMPOSE["services"]["grafana"]
    provisioning = GRAFANA_DIR / "provisioning"
    [source] = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert "9090" in COMPOSE["services"]["prometheus"]["expose"]
    for panel in dashboard_panels():
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
    [provider] = yaml.safe_load(
        (provisioning / "dashboards" / "partnermatch.yml").read_text())["providers"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    assert mounts["./config/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./config/grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD_PATH.name}"
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${GRAFANA_ADMIN_PASSWORD:?")
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert all(port.startswith("127.0.0.1:") for port in grafana["ports"])


# --- Flower --------------------------------------------------------------------------------------

def test_flower_needs_a_login_and_is_reached_only_through_the_proxy():
    flower = COMPOSE["services"]["flower"]
    assert "ports" not in flower
    assert flower["image"] == COMPOSE["services"]["api"]["image"]  # this image, these settings
    assert flower["command"][:2] == ["partnermatch", "flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("ops:${FLOWER_PASSWORD:?")
    assert "--url_prefix=flower" in flower_command("0.0.0.0", 5555)  # noqa: S104
    assert COMPOSE["x-partnermatch-env"]["FLOWER_URL"] == "/flower/"
    nginx = (ROOT / "config" / "nginx.conf").read_text(encoding="utf-8")
    location = re.search(r"location /flower/ \{(.*?)\n        \}", nginx, re.DOTALL).group(1)
    port = re.search(r"set \$flower_upstream flower:(\d+);", location).group(1)
    assert port in flower["expose"] and port == option(flower["command"], "--port")
    assert "proxy_pass http://$flower_upstream;" in location
    assert "/flower/healthcheck" in " ".join(flower["healthcheck"]["test"])


def test_flower_asks_for_its_login(running):
    """The real Flower on the real broker: nothing without the login, the workers with it."""
    flower = running["flower"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(f"{flower}/flower/workers")
    assert refused.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as wrong:
        get_basic(f"{flower}/flower/workers", "ops", "not-the-password")
    assert wrong.value.code == 401
    assert "Workers" in get_basic(f"{flower}/flower/workers", "ops", FLOWER_PASSWORD)
    assert get(f"{flower}/flower/healthcheck") == "OK"  # the compose healthcheck's probe


def test_flower_refuses_to_start_without_a_login(monkeypatch):
    monkeypatch.delenv("FLOWER_BASIC_AUTH", raising=False)
    result = CliRunner().invoke(cli, ["flower"])
    assert result.exit_code == 2 and "FLOWER_BASIC_AUTH" in result.output


@pytest.mark.parametrize(("flower_url", "linked"), [("/flower/", True), ("", False)])
def test_the_ops_page_links_to_flower_when_it_runs(make_app, flower_url, linked):
    client = make_app(OPS_TOKEN=OPS_TOKEN, FLOWER_URL=flower_url).test_client()
    page = client.get("/ops", headers=bearer(OPS_TOKEN)).get_data(as_text=True)
    assert ('<a href="/flower/">Celery workers and tasks in Flower</a>' in page) is linked
    assert "Prometheus metrics" in page
