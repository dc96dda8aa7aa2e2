"""Beat runs the retention task daily, on the events queue."""

from __future__ import annotations

from celery.schedules import crontab

from partnermatch.config.celery import celery_config
from partnermatch.config.settings import load_settings


def test_beat_erases_expired_profiles_once_a_day():
    config = celery_config(load_settings({"SECRET_KEY": "x"}))
    entry = config["beat_schedule"]["erase-expired-profiles"]
    assert entry["task"] == "partnermatch.erase_expired_profiles"
    assert isinstance(entry["schedule"], crontab) and entry["schedule"].hour == {3}
    assert config["task_routes"][entry["task"]] == {"queue": "events"}


def test_the_scheduled_name_is_the_tasks_name():
    from partnermatch.services.worker.tasks import erase_expired_profiles

    assert erase_expired_profiles.name == "partnermatch.erase_expired_profiles"


def test_beat_purges_expired_records_every_hour():
    """Stored replays (holding a profile's token) must not outlive their 24 hours by much."""
    from partnermatch.services.worker.tasks import purge_expired

    config = celery_config(load_settings({"SECRET_KEY": "x"}))
    entry = config["beat_schedule"]["purge-expired"]
    assert entry["task"] == purge_expired.name == "partnermatch.purge_expired"
    assert isinstance(entry["schedule"], crontab) and len(entry["schedule"].hour) == 24
    assert config["task_routes"][entry["task"]] == {"queue": "events"}
