"""The WSGI entry point for gunicorn: structured logs, then the app."""

from partnermatch.config.logging import configure_logging
from partnermatch.config.settings import load_settings
from partnermatch.services.api.app import create_app

_settings = load_settings()
configure_logging(_settings.LOG_LEVEL, _settings.LOG_FORMAT)
app = create_app()
