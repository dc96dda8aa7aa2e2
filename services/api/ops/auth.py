"""Ops access: a password login for people, the OPS_TOKEN bearer token for scripts."""

from __future__ import annotations

import hmac
from functools import wraps

from flask import redirect, request, session, url_for
from flask_smorest import abort
from werkzeug.security import check_password_hash, generate_password_hash

from services.api.runtime import runtime
from shared.models import OpsUser

# A hash to compare against when the name is unknown, so timing does not reveal valid names.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Hash an ops password for storage."""
    return generate_password_hash(password)


def check_login(name: str, password: str) -> bool:
    """Say whether a name and password belong to an ops user."""
    with runtime().sessions() as db:
        user = db.get(OpsUser, name)
    stored = user.password_hash if user else _DUMMY_HASH
    return check_password_hash(stored, password) and user is not None


def _bearer_is_ops_token() -> bool:
    expected = runtime().settings.OPS_TOKEN
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip(), expected)


def current_actor() -> str | None:
    """Return who is making this request: an ops user, "ops-token", or None."""
    if session.get("ops_user"):
        return session["ops_user"]
    return "ops-token" if _bearer_is_ops_token() else None


def ops_required(view):
    """Let ops users and the ops token in; send people to the login page, refuse scripts."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if current_actor() is None:
            if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
                return redirect(url_for("ops.login"))
            abort(401, message="Log in to /ops, or send the ops token as a bearer token.",
                  headers={"WWW-Authenticate": 'Bearer realm="partnermatch-ops"'})
        return view(*args, **kwargs)

    return guarded


def people_only(view):
    """Actions that change things need a logged-in person (CSRF-protected forms)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not session.get("ops_user"):
            abort(401, message="Log in to /ops to do this.")
        return view(*args, **kwargs)

    return guarded
