"""/ops and /metrics: access, figures from the system of record, repairs through forms."""

from __future__ import annotations

import csv
import io
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from services.cli import main as cli
from shared.candidates import CandidateIndex
from shared.models import AuditEntry, DeadLetter, OpsUser, Profile
from shared.records import MatchRequest
from tests.services.api.helpers import create

OPS_TOKEN = "ops-token-for-tests-0123456789"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "OPS_TOKEN": OPS_TOKEN}


@pytest.fixture
def ops_user(app, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(cli, ["ops-user", "add", "alex"],
                                input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    return "alex"


def csrf(client, path: str) -> str:
    page = client.get(path, headers={"Accept": "text/html"})
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def log_in(client, name: str) -> None:
    response = client.post("/ops/login", data={"name": name, "password": PASSWORD,
                                                "csrf_token": csrf(client, "/ops/login")})
    assert response.status_code == 303


@pytest.mark.parametrize("path", ["/ops", "/ops/figures.json", "/metrics",
                                  "/ops/recommendations.csv", "/ops/emails"])
def test_anonymous_requests_are_refused(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_a_person_is_sent_to_the_login_page(client):
    response = client.get("/ops", headers={"Accept": "text/html"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/ops/login")


def test_the_ops_token_opens_figures_and_metrics(client):
    auth = {"Authorization": f"Bearer {OPS_TOKEN}"}
    assert client.get("/ops/figures.json", headers=auth).status_code == 200
    metrics = client.get("/metrics", headers=auth)
    assert metrics.status_code == 200 and b"partnermatch_outbox_lag_seconds" in metrics.data


def test_figures_answer_while_a_writer_holds_sqlite(client, app):
    """Under load (bench.load) a long write, such as a refresh re-ranking many councils, held
    SQLite's one write lock; /ops and /metrics, reading in a writing transaction, waited out the
    busy timeout and answered 503 just when the backlog was worth seeing."""
    engine = app.extensions["partnermatch"].engine
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never wait for writers")
    auth = {"Authorization": f"Bearer {OPS_TOKEN}"}
    with engine.begin():  # BEGIN IMMEDIATE: the write lock, held until the block ends
        for path in ("/ops/figures.json", "/metrics", "/ops"):
            assert client.get(path, headers=auth).status_code == 200, path


def test_password_is_stored_hashed_and_a_wrong_one_is_refused(client, app, ops_user):
    with app.extensions["partnermatch"].sessions() as session:
        stored = session.get(OpsUser, ops_user).password_hash
    assert PASSWORD not in stored
    response = client.post("/ops/login", data={"name": ops_user, "password": "nope",
                                                "csrf_token": csrf(client, "/ops/login")})
    assert response.status_code == 401


def test_login_without_csrf_token_is_refused(client, ops_user):
    response = client.post("/ops/login", data={"name": ops_user, "password": PASSWORD})
    assert response.status_code == 400


def test_dashboard_shows_outbox_lag_and_alerts(client, ops_user, app):
    create(client)  # an event no worker consumes
    log_in(client, ops_user)
    page = client.get("/ops").get_data(as_text=True)
    assert 'data-queue="matching"' in page
    assert "Outbox lag" in page


def supplier_body() -> dict:
    return {"kind": "supplier", "name": "Careful Care Ltd", "contact_name": "Pat",
            "contact_email": "pat@example.com", "ratings": {"adult_social_care": 5},
            "regions_served": ["Yorkshire and The Humber"],
            "evidence_text": "=HYPERLINK(\"http://evil.example\")", "share_contact": True}


def test_approving_a_supplier_makes_it_eligible(client, app, ops_user):
    supplier_id = client.post("/api/v1/profiles", json=supplier_body()).get_json()["id"]
    request = MatchRequest(profile_id="r", kind="council", ratings={"adult_social_care": 1},
                           seeking=("supplier",), gss_code="E08000035", council_type="MD",
                           region="Yorkshire and The Humber")
    sessions = app.extensions["partnermatch"].sessions
    with sessions() as session:
        index = CandidateIndex(session)
    assert index.index.match(request)[0].partners == ()

    log_in(client, ops_user)
    response = client.post(f"/ops/suppliers/{supplier_id}/approve",
                           data={"csrf_token": csrf(client, "/ops")})
    assert response.status_code == 303
    with sessions() as session:
        assert session.get(Profile, supplier_id).approved
        assert session.scalars(select(AuditEntry.action)).all()[-1] == "supplier.approved"
        index.refresh(session)
    partners = index.index.match(request)[0].partners
    assert [p.profile_id for p in partners] == [supplier_id]


def test_approving_needs_a_csrf_token(client, ops_user):
    supplier_id = client.post("/api/v1/profiles", json=supplier_body()).get_json()["id"]
    log_in(client, ops_user)
    assert client.post(f"/ops/suppliers/{supplier_id}/approve").status_code == 400


def test_csv_export_is_safe_against_formula_injection():
    from services.api.ops.views import csv_cell

    assert csv_cell('=HYPERLINK("x")') == "'=HYPERLINK(\"x\")"
    assert csv_cell("+1") == "'+1" and csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("line\nbreak\x00") == "line break "
    assert csv_cell("Leeds") == "Leeds"


def test_csv_export_downloads_with_a_header(client):
    response = client.get("/ops/recommendations.csv",
                          headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "generated_at"


def test_discarding_a_dead_letter_is_audited(client, app, ops_user):
    sessions = app.extensions["partnermatch"].sessions
    with sessions() as session, session.begin():
        letter = DeadLetter(task_name="partnermatch.send_email", task_key="email:x",
                            task_args=["x"], error="550 no such user", attempts=1)
        session.add(letter)
        session.flush()
        letter_id = letter.id
    log_in(client, ops_user)
    assert f'data-dead-letter="{letter_id}"' in client.get("/ops").get_data(as_text=True)
    client.post(f"/ops/dead-letters/{letter_id}/discard", data={"csrf_token": csrf(client, "/ops")})
    with sessions() as session:
        assert session.get(DeadLetter, letter_id).resolution == "discarded"
        assert "dead_letter.discarded" in session.scalars(select(AuditEntry.action)).all()


def test_password_guessing_is_slowed_down(client, ops_user):
    token = csrf(client, "/ops/login")
    codes = [client.post("/ops/login", data={"name": ops_user, "password": f"guess{n}",
                                             "csrf_token": token}).status_code
             for n in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
