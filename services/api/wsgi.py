"""The WSGI entry point for gunicorn."""

from services.api.app import create_app

app = create_app()
