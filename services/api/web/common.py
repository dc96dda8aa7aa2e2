"""What every page needs: the database, the signed-in profile, links from emails, error pages."""

from __future__ import annotations

import time
from typing import Any

from flask import abort, redirect, render_template, session, url_for
from sqlalchemy.orm import Session

from partnermatch.services.api.runtime import runtime
from partnermatch.shared.db.models import Profile
from partnermatch.shared.notifications import links

SIGNED_IN_SECONDS = 2 * 3600
PROFILE_KEY, SIGNED_IN_AT = "profile_id", "signed_in_at"


def sessions():
    """Return the database session factory."""
    return runtime().sessions


def settings():
    """Return the service's settings."""
    return runtime().settings


def page(template: str, code: int = 200, /, **context: Any):
    """Render a page from the pages/ templates with an HTTP status code."""
    return render_template(f"pages/{template}", **context), code


def sign_in(profile_id: str) -> None:
    """Remember in the browser's (signed) session that it may manage this profile."""
    session[PROFILE_KEY] = profile_id
    session[SIGNED_IN_AT] = int(time.time())


def sign_out() -> None:
    """Forget the profile this browser could manage."""
    session.pop(PROFILE_KEY, None)
    session.pop(SIGNED_IN_AT, None)


def signed_in_id() -> str | None:
    """Return the id of the profile this browser may manage, if the sign-in is recent enough."""
    profile_id, since = session.get(PROFILE_KEY), session.get(SIGNED_IN_AT)
    if not isinstance(profile_id, str) or not isinstance(since, int):
        return None
    if time.time() - since > SIGNED_IN_SECONDS:
        sign_out()
        return None
    return profile_id


def signed_in_profile(db: Session) -> Profile | None:
    """Return the profile this browser may manage, or None (also when it has been erased)."""
    profile_id = signed_in_id()
    profile = db.get(Profile, profile_id) if profile_id else None
    if profile_id and profile is None:
        sign_out()
    return profile


def needs_sign_in():
    """Send someone whose sign-in has ended to the page that emails a new link."""
    return redirect(url_for("web.request_link", expired=1))


def link_payload(purpose: str, token: str) -> dict[str, Any]:
    """Return a link's payload, or stop with a page saying the link is not valid or expired."""
    try:
        return links.verify(settings().SECRET_KEY, purpose, token)
    except links.LinkError as error:
        abort(404, str(error))
