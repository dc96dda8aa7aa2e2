"""/ops against real Redis, a real worker and a real SMTP server."""

from __future__ import annotations

import re
import time

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import select

from partnermatch.services.cli import main as cli
from partnermatch.shared.db.models import DeadLetter, EmailDelivery
from tests.services.api.helpers import council_body
from tests.services.worker.faults import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.one_database]
OPS_TOKEN = "ops-token-for-tests-0123456789"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def ops_app(service_env, monkeypatch):
    from partnermatch.services.api.app import create_app

    monkeypatch.setenv("DATABASE_URL", service_env["DATABASE_URL"])
    assert CliRunner().invoke(cli, ["ops-user", "add", "alex"],
                              input=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    app = create_app({**service_env, "OPS_TOKEN": OPS_TOKEN})
    yield app
    app.extensions["partnermatch"].engine.dispose()


def logged_in(app):
    client = app.test_client()
    page = client.get("/ops/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/ops/login", data={"name": "alex", "password": PASSWORD, "csrf_token": token})
    return client


def test_refused_email_is_dead_lettered_then_retried_from_ops_and_sent_once(
    ops_app, smtp, worker, beat
):
    smtp.refuse_with = "550 5.1.1 No such user here"
    client = ops_app.test_client()
    assert client.post("/api/v1/profiles", json=council_body()).status_code == 201
    sessions = ops_app.extensions["partnermatch"].sessions

    def dead_letter():
        with sessions() as session:
            return session.scalar(select(DeadLetter).where(DeadLetter.resolved_at.is_(None)))

    letter = wait_until(dead_letter)
    assert "550" in letter.error and smtp.messages == []
    smtp.refuse_with = None

    ops = logged_in(ops_app)
    page = ops.get("/ops").get_data(as_text=True)
    assert f'data-dead-letter="{letter.id}"' in page and "No such user" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = ops.post(f"/ops/dead-letters/{letter.id}/retry", data={"csrf_token": token})
    assert response.status_code == 303

    smtp.wait_for(lambda m: m["Subject"].startswith("Confirm"))
    time.sleep(4)  # several relay passes: nothing is sent twice
    assert len(smtp.messages) == 1
    with sessions() as session:
        assert session.scalars(select(EmailDelivery.status)).all() == ["sent"]


def test_queue_depths_on_ops_equal_redis_and_metrics_agree(ops_app, redis_server):
    client = ops_app.test_client()
    for n in range(3):  # no worker runs: the matching tasks wait in Redis
        body = council_body(contact_email=f"person{n}@leeds.gov.uk")
        assert client.post("/api/v1/profiles", json=body).status_code == 201
    ops_app.extensions["partnermatch"].publisher.wait_idle()
    auth = {"Authorization": f"Bearer {OPS_TOKEN}"}
    figures = client.get("/ops/figures.json", headers=auth).get_json()
    held = redis.Redis.from_url(redis_server.url)
    assert figures["queue_depths"]["matching"] == held.llen("matching") == 3
    assert figures["queue_depths"]["email"] == held.llen("email") == 3
    assert figures["outbox_unconsumed"] == 3

    metrics = client.get("/metrics", headers=auth).get_data(as_text=True)
    assert _sample(metrics, 'partnermatch_queue_depth{queue="matching"}') == 3
    assert _sample(metrics, "partnermatch_outbox_unconsumed") == figures["outbox_unconsumed"]
    assert _sample(metrics, "partnermatch_dead_letters") == figures["dead_letters"]
    assert (_sample(metrics, 'partnermatch_email_deliveries{status="pending"}')
            == figures["deliveries"]["pending"])


def _sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, f"{name} not in metrics"
    return float(match.group(1))


def test_task_counters_from_the_prefork_pool_reach_metrics(service_env, tmp_path, monkeypatch):
    from partnermatch.services.api.app import create_app
    from tests.processes import CeleryProcess

    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    settings = {**service_env, "OPS_TOKEN": OPS_TOKEN}
    env = {**settings, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    worker = CeleryProcess.worker(env, tmp_path / "worker.log")
    try:
        app = create_app(settings)
        client = app.test_client()
        assert client.post("/api/v1/profiles", json=council_body()).status_code == 201
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
        name = 'partnermatch_tasks_total{state="succeeded",task="partnermatch.match_profile"}'

        def counted():
            text = client.get("/metrics", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
            match = re.search(rf"^{re.escape(name)} ([0-9.]+)$", text.get_data(as_text=True),
                              re.MULTILINE)
            return match and float(match.group(1)) >= 1

        wait_until(counted)
    finally:
        worker.stop()
