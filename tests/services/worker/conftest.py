"""Fixtures that start the real thing: celery worker and beat, an SMTP server (redis-server:
tests/services/conftest.py)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from tests.processes import CeleryProcess, settings_of, start_smtp


@pytest.fixture
def smtp():
    controller, mailbox = start_smtp()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def service_env(database_url, redis_server, smtp, tmp_path) -> dict[str, str]:
    """Settings shared by the API, worker and beat of one test, with short timings."""
    return {
        "PARTNERMATCH_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_server.url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_TIMEOUT": "5",
        "MAIL_FROM": "partnermatch@partnermatch.test",
        "PUBLIC_BASE_URL": "http://localhost",
        "SECRET_KEY": "test-secret-key",
        "VAR_DIR": str(tmp_path / "var"),
        "RELAY_INTERVAL_SECONDS": "1",
        "RELAY_GRACE_SECONDS": "3",
        "TASK_SOFT_TIME_LIMIT": "20",
        "TASK_TIME_LIMIT": "25",
        "BROKER_VISIBILITY_TIMEOUT": "30",
        "EMAIL_RETRY_BASE_SECONDS": "0.5",
        "EMAIL_RETRY_MAX_SECONDS": "2",
    }


FAULT_OPS_TOKEN = "ops-token-for-tests-0123456789"


@pytest.fixture
def fault_env(service_env) -> dict[str, str]:
    """Addresses need no confirmation; matches are slowed so a signal lands mid-match."""
    return {
        **service_env,
        "REQUIRE_EMAIL_CONFIRMATION": "false",
        "TEST_MATCH_DELAY_SECONDS": "1.5",
        "TASK_SOFT_TIME_LIMIT": "6",
        "TASK_TIME_LIMIT": "8",
        "BROKER_VISIBILITY_TIMEOUT": "10",
    }


@pytest.fixture
def fault_api(fault_env):
    """The API in this process, publishing to the test's Redis; ops figures open to the token."""
    from partnermatch.services.api.app import create_app

    app = create_app({**settings_of(fault_env), "OPS_TOKEN": FAULT_OPS_TOKEN})
    yield app.test_client()
    app.extensions["partnermatch"].engine.dispose()


@pytest.fixture
def demo_candidates(database_url) -> None:
    """Profiles for every English council with social care, from public data."""
    from partnermatch.shared.profiles.demo import seed_demo

    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        seed_demo(session)
    engine.dispose()


@pytest.fixture
def worker(service_env, tmp_path) -> Iterator[CeleryProcess]:
    process = CeleryProcess.worker(service_env, tmp_path / "worker.log")
    yield process
    process.stop()


@pytest.fixture
def beat(service_env, tmp_path) -> Iterator[CeleryProcess]:
    (tmp_path / "var").mkdir(exist_ok=True)
    process = CeleryProcess.beat(service_env, tmp_path / "beat.log", tmp_path / "var")
    yield process
    process.stop()


@pytest.fixture
def api(service_env):
    from partnermatch.services.api.app import create_app

    app = create_app(service_env)
    yield app.test_client()
    app.extensions["partnermatch"].engine.dispose()


def confirm_link(text: str) -> str:
    return re.search(r"http://localhost(/confirm/[A-Za-z0-9_.\-]+)", text).group(1)


def confirm(client, path: str) -> None:
    """Press the confirm button as a browser would: read the form's CSRF token, then post."""
    page = client.get(path)
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)


def pytest_collection_modifyitems(config, items):
    """Run the slow tests whose subject is not the database once: on PostgreSQL (production's
    database) when it is there.

    They are the fault tests (test_faults_*.py) and the tests marked `one_database` (the Notify
    client, the kept SMTP connection, personal data in queues and logs, ops against real
    processes): what they prove goes through the same code on either database, which the faster
    tests beside them cover on both. The end-to-end pipeline tests still run on both SQLite and
    PostgreSQL, and so does a test written for SQLite alone (one with no PostgreSQL variant).
    """
    if not os.environ.get("TEST_DATABASE_URL"):
        return
    ids = {item.nodeid for item in items}
    once = [item for item in items
            if ("/test_faults_" in item.nodeid or item.get_closest_marker("one_database"))
            and "[sqlite" in item.nodeid
            and item.nodeid.replace("[sqlite", "[postgresql") in ids]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if item not in once]
