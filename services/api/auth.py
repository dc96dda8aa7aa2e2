"""Bearer tokens for profiles: in the Authorization header only, never in a URL."""

from __future__ import annotations

import re

from flask import request
from flask_smorest import abort
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import Profile
from partnermatch.shared.profiles.store import token_matches

_BEARER = re.compile(r"^Bearer ([A-Za-z0-9_\-]{20,200})$")
_QUERY_TOKEN_NAMES = ("token", "access_token", "auth")


def presented_token() -> str:
    """Return the bearer token of this request, or abort with 400 or 401."""
    if any(name in request.args for name in _QUERY_TOKEN_NAMES):
        abort(400, message="Send the token in the Authorization header, never in the address.")
    header = request.headers.get("Authorization", "")
    match = _BEARER.match(header.strip())
    if not match:
        abort(401, message="Send the profile's token as 'Authorization: Bearer <token>'.",
              headers={"WWW-Authenticate": 'Bearer realm="partnermatch"'})
    return match.group(1)


def authorised_profile(session: Session, profile_id: str) -> Profile:
    """Load a profile the request's token belongs to; anything else is 404."""
    token = presented_token()
    profile = session.get(Profile, str(profile_id))
    if profile is None or not token_matches(profile, token):
        abort(404, message="No such profile.")
    return profile
