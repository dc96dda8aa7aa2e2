"""Task names are what queued messages carry: they keep their values, and every task has one."""

from __future__ import annotations

from partnermatch.shared.outbox.names import TaskName, email_key, match_key


def test_task_names_keep_the_values_messages_in_flight_carry():
    assert {name.name: str(name) for name in TaskName} == {
        "MATCH_PROFILE": "partnermatch.match_profile",
        "REFRESH_PARTNERS": "partnermatch.refresh_partners",
        "SEND_EMAIL": "partnermatch.send_email",
        "SEND_PROFILE_LINKS": "partnermatch.send_profile_links",
        "HANDLE_EVENT": "partnermatch.handle_event",
        "RELAY_OUTBOX": "partnermatch.relay_outbox",
        "PURGE_EXPIRED": "partnermatch.purge_expired",
        "ERASE_EXPIRED_PROFILES": "partnermatch.erase_expired_profiles",
        "NOOP": "partnermatch.noop",
    }


def test_attempt_keys_keep_the_form_stored_in_attempts_and_dead_letters():
    assert match_key("e1") == "match:e1"
    assert email_key("d1") == "email:d1"


def test_every_task_the_worker_registers_is_named_here():
    from partnermatch.services.worker import tasks  # noqa: F401 - registers the tasks
    from partnermatch.services.worker.app import app

    assert {name for name in app.tasks if name.startswith("partnermatch.")} == set(TaskName)
