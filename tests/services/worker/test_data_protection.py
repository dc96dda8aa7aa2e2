"""Personal data through the real queue: task payloads are ids, logs hold no addresses or tokens."""

from __future__ import annotations

import base64
import json
import logging
import re
import time

import pytest
import redis

from partnermatch.config.logging import JsonFormatter
from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.db.models import EmailDelivery
from tests.processes import CeleryProcess, text_of
from tests.services.api.helpers import bearer, council_body
from tests.services.worker.conftest import confirm, confirm_link

pytestmark = [pytest.mark.slow, pytest.mark.one_database]

QUEUES = ("matching", "email", "events")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
PERSON = {"contact_email": "pat.private@leeds.gov.uk", "contact_name": "Pat Private"}


def queued(redis_url: str) -> list[dict]:
    """Return the raw messages waiting in the Celery queues."""
    client = redis.Redis.from_url(redis_url)
    return [json.loads(raw) for queue in QUEUES for raw in client.lrange(queue, 0, -1)]


def task_args(message: dict) -> list:
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert kwargs == {}
    return args


def test_queued_tasks_carry_ids_only_and_an_erased_profiles_email_is_never_sent(
    api, service_env, smtp, tmp_path
):
    created = api.post("/api/v1/profiles", json=council_body(**PERSON)).get_json()
    api.application.extensions["partnermatch"].publisher.wait_idle()
    messages = queued(service_env["REDIS_URL"])
    assert {m["headers"]["task"] for m in messages} >= {"partnermatch.match_profile",
                                                        "partnermatch.send_email"}
    for message in messages:
        assert all(UUID.match(arg) for arg in task_args(message)), message
        raw = json.dumps(message)
        assert PERSON["contact_email"] not in raw and PERSON["contact_name"] not in raw
        assert created["token"] not in raw and created["id"] not in raw

    assert api.delete(f"/api/v1/profiles/{created['id']}",
                      headers=bearer(created["token"])).status_code == 204
    worker = CeleryProcess.worker(service_env, tmp_path / "worker.log")
    try:
        wait_drained(service_env["REDIS_URL"])
        time.sleep(2)  # let a send that would wrongly happen reach the SMTP server
    finally:
        worker.stop()
    assert smtp.messages == []


def wait_drained(redis_url: str, timeout: float = 30) -> None:
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(client.llen(queue) for queue in QUEUES):
            return
        time.sleep(0.2)
    raise AssertionError("the queues did not drain")


def test_no_log_line_holds_an_email_address_or_a_token(api, worker, beat, smtp, service_env,
                                                        caplog, database_url):
    caplog.set_level(logging.DEBUG)
    secrets = [PERSON["contact_name"]]
    created = api.post("/api/v1/profiles", json=council_body(**PERSON)).get_json()
    secrets.append(created["token"])
    link = confirm_link(text_of(smtp.wait_for(lambda m: "Confirm" in m["Subject"])[0]))
    secrets.append(link.rsplit("/", 1)[1])
    confirm(api, link)
    smtp.wait_for(lambda m: "recommendations" in m["Subject"])
    url, auth = f"/api/v1/profiles/{created['id']}", bearer(created["token"])
    assert api.get(url, headers=auth).status_code == 200
    assert api.get(url + "/matches", headers=auth).status_code == 200
    secrets.append(api.post(url + "/token", headers=auth).get_json()["token"])
    assert api.get(url, headers=bearer(created["token"])).status_code == 404  # logged, no token
    assert api.delete(url, headers=bearer(secrets[-1])).status_code == 204
    wait_all_sent(database_url)

    formatter = JsonFormatter()
    # Everything but the test's own SMTP server (aiosmtpd logs what it receives).
    lines = [formatter.format(record) for record in caplog.records
             if not record.name.startswith(("mail.log", "asyncio"))]
    lines += worker.log.read_text(errors="replace").splitlines()
    lines += beat.log.read_text(errors="replace").splitlines()
    assert len(lines) > 10
    ours = service_env["MAIL_FROM"]
    for line in lines:
        addresses = [m.group(0) for m in EMAIL.finditer(line) if m.group(0) != ours]
        assert not addresses, line
        assert not any(secret in line for secret in secrets), line


def wait_all_sent(database_url: str, timeout: float = 20) -> None:
    """Wait until no email is pending or being sent, so the worker has logged everything."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with transaction(sessions) as session:
                busy = session.query(EmailDelivery).filter(
                    EmailDelivery.status.in_(("pending", "sending"))).count()
            if not busy:
                return
            time.sleep(0.2)
    finally:
        engine.dispose()
