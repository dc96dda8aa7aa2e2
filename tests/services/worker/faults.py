"""Helpers of the fault tests (test_faults_*.py): the councils that submit, waiting, counting
match runs and emails, reading worker logs and the ops figures."""

from __future__ import annotations

import time
from collections import Counter
from email.utils import parseaddr

from sqlalchemy import select

from partnermatch.services.api.app import create_app
from partnermatch.shared.db.models import MatchRun
from tests.processes import CeleryProcess, settings_of
from tests.services.api.helpers import council_body
from tests.services.worker.conftest import FAULT_OPS_TOKEN as OPS_TOKEN

# Metropolitan boroughs with their council email domains (all deliver every service).
COUNCILS = {
    "E08000035": "leeds.gov.uk",
    "E08000032": "bradford.gov.uk",
    "E08000034": "kirklees.gov.uk",
    "E08000036": "wakefield.gov.uk",
    "E08000033": "calderdale.gov.uk",
}


def submit_all(client, councils: dict[str, str] = COUNCILS) -> None:
    for gss, domain in councils.items():
        body = council_body(gss_code=gss, contact_email=f"lead@{domain}",
                            ratings={"waste": 2, "housing": 5})
        assert client.post("/api/v1/profiles", json=body).status_code == 201


def recommendation_emails(smtp) -> Counter:
    return Counter(parseaddr(m["To"])[1] for m in smtp.messages
                   if "recommendations" in m["Subject"])


def assert_one_email_each(smtp, settle: float, *workers: CeleryProcess) -> None:
    try:
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], count=len(COUNCILS),
                      timeout=60)
    except AssertionError as error:
        logs = "\n".join(w.log.read_text(errors="replace")[-6000:] for w in workers)
        raise AssertionError(f"{error}\n--- worker logs ---\n{logs}") from None
    time.sleep(settle)  # let redelivered and re-published duplicates arrive, if any would
    sent = recommendation_emails(smtp)
    assert sorted(sent) == sorted(f"lead@{d}" for d in COUNCILS.values())
    assert set(sent.values()) == {1}, sent


def wait_until(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not met in time")


def sessions_of(client):
    return client.application.extensions["partnermatch"].sessions


def match_runs(client) -> Counter:
    """Match runs per (profile, version)."""
    with sessions_of(client)() as session:
        rows = session.execute(select(MatchRun.profile_id, MatchRun.profile_version)).all()
    return Counter(tuple(row) for row in rows)


def one_run_each(client, expected: int) -> None:
    runs = match_runs(client)
    assert len(runs) == expected and set(runs.values()) == {1}, runs


def figures(client) -> dict:
    response = client.get("/ops/figures.json", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert response.status_code == 200
    return response.get_json()


def logs(*workers: CeleryProcess) -> str:
    return "\n".join(w.log.read_text(errors="replace")[-6000:] for w in workers)


def app_client(env: dict[str, str]):
    app = create_app({**settings_of(env), "OPS_TOKEN": OPS_TOKEN})
    return app, app.test_client()
