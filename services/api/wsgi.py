"""The WSGI entry point for gunicorn: structured logs, then the app."""

from config.logging import configure_logging
from config.settings import load_settings
from services.api.app import create_app

_settings = load_settings()
configure_logging(_settings.LOG_LEVEL, _settings.LOG_FORMAT)
app = create_app()
