"""The worker's SMTP connection: kept open between emails, closed with QUIT when it shuts down."""

from __future__ import annotations

import pytest

from tests.processes import text_of
from tests.services.api.helpers import council_body
from tests.services.worker.conftest import confirm, confirm_link

pytestmark = [pytest.mark.slow, pytest.mark.one_database]

LEEDS_ADDRESS = "sam.officer@leeds.gov.uk"


def test_worker_keeps_its_smtp_connection_and_says_goodbye_on_shutdown(
    api, worker, smtp, demo_candidates
):
    api.post("/api/v1/profiles", json=council_body())
    confirmation = smtp.wait_for(lambda m: LEEDS_ADDRESS in m["To"])[0]
    confirm(api, confirm_link(text_of(confirmation)))
    smtp.wait_for(lambda m: "recommendations" in m["Subject"])
    assert smtp.goodbyes == []  # both emails sent, and no connection closed after either

    worker.stop()  # a warm shutdown, as systemd or Kubernetes asks for one

    assert sorted(smtp.goodbyes) == sorted(smtp.peers)  # each connection used ended with QUIT
