"""gunicorn forks its workers from a master that built the app (config/gunicorn.py: preload_app).

A forked worker must never use a database connection its parent opened: the engine's pool starts
empty in the child, which then serves submissions on connections of its own.
"""

from __future__ import annotations

import os

from tests.services.api.helpers import council_body, create


def _serve_in_child(app, client) -> int:
    """What a forked worker does: check its pool is empty, then take a submission."""
    engine = app.extensions["partnermatch"].engine
    if engine.pool.checkedin() != 0:
        return 2
    response = client.post("/api/v1/profiles",
                           json=council_body(contact_email="jo.officer@leeds.gov.uk"))
    return 0 if response.status_code == 201 else 3


def test_a_forked_worker_uses_database_connections_of_its_own(app, client):
    create(client)  # the parent has used a connection, now pooled
    assert app.extensions["partnermatch"].engine.pool.checkedin() == 1

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _serve_in_child(app, client)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert create(client)["status"] == "pending"  # the parent's own connection still serves it
