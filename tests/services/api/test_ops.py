"""/ops and /metrics: access, figures from the system of record, repairs through forms."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from partnermatch.services.cli import main as cli
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    AuditEntry,
    DeadLetter,
    OpsSession,
    OpsUser,
    Profile,
    utcnow,
)
from partnermatch.shared.outbox.names import TaskName, email_key
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.live_index import CandidateIndex
from partnermatch.shared.reference.records import MatchRequest
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
    with transaction(app.extensions["partnermatch"].sessions) as session:
        confirm_address(session, "pat@example.com")  # only confirmed profiles take part
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
    from partnermatch.services.api.ops.views import csv_cell

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
        letter = DeadLetter(task_name=TaskName.SEND_EMAIL, task_key=email_key("x"),
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
    # Each guess at another name, so only the per-client limit (10 a minute) can stop them.
    codes = [client.post("/ops/login", data={"name": f"{ops_user}{n}", "password": f"guess{n}",
                                             "csrf_token": token}).status_code
             for n in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


# --- ops sessions -------------------------------------------------------------------------------

COOKIE = "partnermatch_session"


def copied_cookie(app, client):
    """Another browser holding a copy of this client's session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def test_a_copied_cookie_stops_working_at_logout(app, client, ops_user):
    log_in(client, ops_user)
    thief = copied_cookie(app, client)
    assert thief.get("/ops/figures.json").status_code == 200
    token = csrf(client, "/ops")
    assert client.post("/ops/logout", data={"csrf_token": token}).status_code == 303
    assert thief.get("/ops/figures.json").status_code == 401
    assert client.get("/ops/figures.json").status_code == 401


def test_removing_an_ops_user_ends_its_sessions(app, client, ops_user):
    log_in(client, ops_user)
    thief = copied_cookie(app, client)
    result = CliRunner().invoke(cli, ["ops-user", "remove", ops_user])
    assert result.exit_code == 0, result.output
    assert thief.get("/ops/figures.json").status_code == 401
    with app.extensions["partnermatch"].sessions() as session:
        assert session.scalars(select(OpsSession)).all() == []
    result = CliRunner().invoke(cli, ["ops-user", "remove", ops_user])
    assert result.exit_code != 0 and "no ops user" in result.output


def test_an_ops_session_ends_eight_hours_after_login(client, ops_user, monkeypatch):
    from partnermatch.services.api.ops import auth

    log_in(client, ops_user)
    login_time = utcnow()
    monkeypatch.setattr(auth, "utcnow", lambda: login_time + timedelta(hours=7, minutes=59))
    assert client.get("/ops/figures.json").status_code == 200
    monkeypatch.setattr(auth, "utcnow", lambda: login_time + timedelta(hours=8, minutes=1))
    assert client.get("/ops/figures.json").status_code == 401


def test_the_session_lives_on_the_server_not_in_the_cookie(app, client, ops_user):
    log_in(client, ops_user)
    with app.extensions["partnermatch"].sessions() as session:
        row = session.scalars(select(OpsSession)).one()
    assert row.user_name == ops_user
    assert row.expires_at - row.created_at == timedelta(hours=8)
    assert row.id_hash not in client.get_cookie(COOKIE).value


def test_guesses_at_one_account_from_many_clients_are_limited(make_app, ops_user):
    client = make_app(TRUSTED_PROXY_COUNT="1", OPS_TOKEN=OPS_TOKEN).test_client()
    token = csrf(client, "/ops/login")

    def attempt(n: int, name: str, password: str) -> int:
        headers = {"X-Forwarded-For": f"198.51.100.{n}"}  # a new client each time
        return client.post("/ops/login", headers=headers, data={
            "name": name, "password": password, "csrf_token": token}).status_code

    codes = [attempt(n, ops_user, f"guess{n}") for n in range(5)]
    assert codes == [401] * 5
    assert attempt(6, ops_user, PASSWORD) == 429  # even the right password, until it resets
    assert attempt(7, "someone-else", "guess") == 401  # another account is not held up


def test_a_successful_login_does_not_count_against_the_account(make_app, ops_user):
    client = make_app(OPS_TOKEN=OPS_TOKEN).test_client()
    for _ in range(6):
        log_in(client, ops_user)


def test_a_non_ascii_ops_token_is_401_not_500(client):
    for token in ("\u00e9t\u00e9", OPS_TOKEN[:-1] + "\u00e9"):
        response = client.get("/ops/figures.json", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
