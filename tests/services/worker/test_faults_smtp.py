"""Faults of the SMTP server from docs/reliability.md (F5, F6) against real processes: refusing for
a while, never accepting, hanging up before the final reply. One email at most, never resent when
it may have been sent.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from partnermatch.shared.db.models import DeadLetter, EmailDelivery
from tests.processes import CeleryProcess
from tests.services.api.helpers import council_body
from tests.services.worker.faults import (
    app_client,
    figures,
    one_run_each,
    recommendation_emails,
    sessions_of,
    wait_until,
)

pytestmark = pytest.mark.slow


# F5 ------------------------------------------------------------------------------------------

def test_smtp_refusing_for_a_while_is_retried_with_backoff_then_sent_once(
    fault_env, smtp, tmp_path
):
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "0", "EMAIL_RETRY_BASE_SECONDS": "0.5",
           "EMAIL_RETRY_MAX_SECONDS": "2", "EMAIL_MAX_ATTEMPTS": "10"}
    app, client = app_client(env)
    smtp.refuse_with = "451 4.3.0 try later"
    worker = CeleryProcess.worker(env, tmp_path / "w.log")
    beat = CeleryProcess.beat(env, tmp_path / "beat.log", tmp_path / "var")
    try:
        body = council_body(contact_email="lead@leeds.gov.uk")
        assert client.post("/api/v1/profiles", json=body).status_code == 201

        def attempts():
            with sessions_of(client)() as session:
                return session.scalar(select(EmailDelivery.attempts)) or 0

        wait_until(lambda: attempts() >= 3, what="three refused attempts")
        with sessions_of(client)() as session:
            delivery = session.scalar(select(EmailDelivery))
            assert delivery.status in ("pending", "sending") and "451" in delivery.last_error
        assert smtp.messages == []
        smtp.refuse_with = None
        smtp.wait_for(lambda m: "recommendations" in m["Subject"], timeout=30)
        time.sleep(4)  # relay passes: nothing is sent again
        assert recommendation_emails(smtp) == Counter({"lead@leeds.gov.uk": 1})
        with sessions_of(client)() as session:
            delivery = session.scalar(select(EmailDelivery))
            assert delivery.status == "sent" and delivery.attempts > 1
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
        one_run_each(client, 1)
    finally:
        beat.stop()
        worker.stop()
        app.extensions["partnermatch"].engine.dispose()


def test_smtp_that_never_returns_dead_letters_the_email_and_raises_the_ops_alert(
    fault_env, smtp, tmp_path
):
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "0", "EMAIL_MAX_ATTEMPTS": "2"}
    app, client = app_client(env)
    smtp.refuse_with = "451 4.3.0 try later"
    worker = CeleryProcess.worker(env, tmp_path / "w.log")
    beat = CeleryProcess.beat(env, tmp_path / "beat.log", tmp_path / "var")
    try:
        body = council_body(contact_email="lead@leeds.gov.uk")
        assert client.post("/api/v1/profiles", json=body).status_code == 201

        def dead_letter():
            with sessions_of(client)() as session:
                return session.scalar(select(DeadLetter))

        letter = wait_until(dead_letter, what="a dead letter")
        assert "451" in letter.error
        time.sleep(3)  # relay passes: no more attempts
        with sessions_of(client)() as session:
            delivery = session.scalar(select(EmailDelivery))
            assert delivery.status == "failed" and delivery.attempts == 2
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1
        assert smtp.messages == []
        current = figures(client)
        assert current["dead_letters"] == 1 and "dead_letters" in current["alerts"]
        one_run_each(client, 1)
    finally:
        beat.stop()
        worker.stop()
        app.extensions["partnermatch"].engine.dispose()


# F6 ------------------------------------------------------------------------------------------

def test_smtp_hanging_up_before_the_final_reply_is_ambiguous_and_never_resent(
    fault_env, smtp, tmp_path
):
    env = {**fault_env, "TEST_MATCH_DELAY_SECONDS": "0"}
    app, client = app_client(env)
    received = []

    async def hang_up_after_data(server, session, envelope):
        received.append(envelope)
        server.transport.abort()  # every byte arrived; the client never sees the 250
        return "250 OK"

    smtp.handle_DATA = hang_up_after_data  # looked up per connection by aiosmtpd
    worker = CeleryProcess.worker(env, tmp_path / "w.log")
    beat = CeleryProcess.beat(env, tmp_path / "beat.log", tmp_path / "var")
    try:
        body = council_body(contact_email="lead@leeds.gov.uk")
        assert client.post("/api/v1/profiles", json=body).status_code == 201

        def status():
            with sessions_of(client)() as session:
                return session.scalar(select(EmailDelivery.status))

        wait_until(lambda: status() == "ambiguous", what="an ambiguous delivery")
        time.sleep(5)  # several relay passes: never resent automatically
        assert len(received) == 1
        with sessions_of(client)() as session:
            delivery = session.scalar(select(EmailDelivery))
            assert delivery.status == "ambiguous" and delivery.attempts == 1
            assert delivery.message_id
        current = figures(client)
        assert current["deliveries"]["ambiguous"] == 1 and current["dead_letters"] == 1
        one_run_each(client, 1)
    finally:
        beat.stop()
        worker.stop()
        app.extensions["partnermatch"].engine.dispose()
