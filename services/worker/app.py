"""The Celery app, for `partnermatch worker` and `celery -A partnermatch.services.worker.app`."""

from __future__ import annotations

from celery import Celery
from celery.signals import setup_logging

from partnermatch.config.celery import celery_config
from partnermatch.config.logging import configure_logging
from partnermatch.config.settings import Settings, load_settings
from partnermatch.services.worker import broker, metrics


def create_celery(settings: Settings | None = None) -> Celery:
    """Create the Celery app for these settings (read from the environment by default)."""
    settings = settings or load_settings()
    celery = Celery("partnermatch", include=["partnermatch.services.worker.tasks"])
    celery.conf.update(celery_config(settings))
    broker.install()
    celery.conf.partnermatch_settings = settings
    metrics.install(celery)
    return celery


@setup_logging.connect
def _logging(**_kwargs) -> None:
    """Use the project's structured logs instead of Celery's own set-up."""
    settings = app.conf.partnermatch_settings
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)


app = create_celery()
