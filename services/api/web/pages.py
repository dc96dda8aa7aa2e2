"""The pages that explain the service: start, privacy notice, accessibility statement."""

from __future__ import annotations

from partnermatch.services.api.web import bp
from partnermatch.services.api.web.common import page, settings


@bp.get("/")
def start():
    """Say what the service does, who it is for and what happens to the data."""
    return page("start.html", retention_days=settings().RETENTION_DAYS)


@bp.get("/privacy")
def privacy():
    """Show the privacy notice."""
    return page("privacy.html", retention_days=settings().RETENTION_DAYS)


@bp.get("/accessibility")
def accessibility():
    """Show the accessibility statement."""
    return page("accessibility.html")
