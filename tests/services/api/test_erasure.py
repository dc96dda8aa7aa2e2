"""Erasure through the API: afterwards no table holds the person's email, name or profile id.

Every table is read through SQLAlchemy's metadata, so a table added later is checked too. The one
exception allowed is the outbox's "profile.deleted" event (and earlier events), which hold the id
and nothing else, so the workers' indexes can drop the profile.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import (
    AuditEntry,
    Base,
    DeadLetter,
    EmailDelivery,
    OutboxEvent,
    Profile,
)
from partnermatch.shared.outbox.names import TaskName, email_key
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.feedback import record_feedback
from partnermatch.shared.recommendations.introductions import request_introduction
from partnermatch.shared.recommendations.runs import latest_run
from tests.services.api.helpers import bearer, council_body
from tests.services.api.web_helpers import run_worker

ERASED = {"email": "erase.me@leeds.gov.uk", "name": "Erin Erasable"}


def submit_pair(client) -> tuple[dict, dict]:
    """Leeds (to be erased) is strong in waste, Bradford in housing: each the other's match."""
    leeds = client.post("/api/v1/profiles", json=council_body(
        contact_email=ERASED["email"], contact_name=ERASED["name"], share_contact=False,
        capacity_to_support="available", ratings={"waste": 5, "housing": 1})).get_json()
    bradford = client.post("/api/v1/profiles", json=council_body(
        gss_code="E08000032", contact_email="keep@bradford.gov.uk", contact_name="Kim Keeper",
        capacity_to_support="available", ratings={"waste": 1, "housing": 5})).get_json()
    return leeds, bradford


def leave_traces_everywhere(app, tmp_path, leeds_id: str, bradford_id: str) -> None:
    """Match both, email both, ask for an introduction, give feedback, dead-letter an email."""
    sessions = app.extensions["partnermatch"].sessions
    with transaction(sessions) as session:  # confirmed first: only confirmed profiles take part
        for address in (ERASED["email"], "keep@bradford.gov.uk"):
            confirm_address(session, address)
    run_worker(app, tmp_path)
    with transaction(sessions) as session:
        bradford = session.get(Profile, bradford_id)
        run = latest_run(session, bradford)
        assert any(r.partner_profile_id == leeds_id for r in run.recommendations)
        request_introduction(session, bradford, leeds_id)
        assert record_feedback(session, run.id, leeds_id, True)
        session.add(AuditEntry(actor="alex", action="supplier.approved", target=leeds_id))
        delivery = session.scalars(select(EmailDelivery).where(
            EmailDelivery.to_address == ERASED["email"])).first()
        session.add(DeadLetter(task_name=TaskName.SEND_EMAIL,
                               task_key=email_key(delivery.id), task_args=[delivery.id],
                               error=f"550 <{ERASED['email']}>: mailbox full", attempts=1))


def rows_mentioning(app, needles: list[str]) -> list[tuple[str, dict]]:
    """Return every row of every table in which any needle appears."""
    found = []
    with app.extensions["partnermatch"].engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                text = json.dumps({k: v for k, v in row.items()}, default=str)
                if any(needle.lower() in text.lower() for needle in needles):
                    found.append((table.name, dict(row)))
    return found


def test_after_delete_no_table_holds_the_persons_email_name_or_id(client, app, tmp_path):
    leeds, bradford = submit_pair(client)
    leave_traces_everywhere(app, tmp_path, leeds["id"], bradford["id"])
    needles = [ERASED["email"], ERASED["name"], leeds["id"]]
    before = {table for table, _ in rows_mentioning(app, needles)}
    assert {"profiles", "profile_versions", "email_deliveries", "match_runs", "recommendations",
            "introductions", "feedback", "audit_log", "dead_letters",
            "contact_addresses"} <= before  # the test reaches every place data can be

    response = client.delete(f"/api/v1/profiles/{leeds['id']}", headers=bearer(leeds["token"]))
    assert response.status_code == 204

    left = rows_mentioning(app, needles)
    assert {table for table, _ in left} == {"outbox_events"}, left
    (_, event), = left  # not the profile.submitted event either
    assert event["profile_id"] == leeds["id"] and event["topic"] == "profile.deleted"
    assert_bradford_is_untouched(client, app, bradford)


def assert_bradford_is_untouched(client, app, bradford: dict) -> None:
    response = client.get(bradford["links"]["matches"], headers=bearer(bradford["token"]))
    assert response.status_code == 200
    with app.extensions["partnermatch"].sessions() as session:
        assert session.get(Profile, bradford["id"]) is not None
        assert session.scalars(select(OutboxEvent).where(
            OutboxEvent.topic == "profile.deleted")).one()


def test_an_email_owed_before_erasure_is_not_sent_after_it(client, app, tmp_path):
    leeds, _bradford = submit_pair(client)  # each owes a confirmation email, not yet sent
    client.delete(f"/api/v1/profiles/{leeds['id']}", headers=bearer(leeds["token"]))
    sent = run_worker(app, tmp_path)
    # a confirmation: no name the submitter typed, only the address
    assert [m["To"] for m in sent] == ["keep@bradford.gov.uk"]
