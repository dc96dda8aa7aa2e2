"""Ops access: a password login for people, the OPS_TOKEN bearer token for scripts.

A login is a server-side session: the (signed) cookie holds a random id, the database holds its
hash, its user and when it ends (OPS_SESSION_HOURS after login). Logging out deletes the row and
removing the user deletes all of the user's rows, so a copied cookie stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import wraps

from flask import g, redirect, request, session, url_for
from flask_smorest import abort
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from partnermatch.services.api.runtime import runtime
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import OpsSession, OpsUser, utcnow

# A hash to compare against when the name is unknown, so timing does not reveal valid names.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
SESSION_KEY = "ops_session"


def hash_password(password: str) -> str:
    """Hash an ops password for storage."""
    return generate_password_hash(password)


def check_login(name: str, password: str) -> bool:
    """Say whether a name and password belong to an ops user."""
    with runtime().sessions() as db:
        user = db.get(OpsUser, name)
    stored = user.password_hash if user else _DUMMY_HASH
    return check_password_hash(stored, password) and user is not None


def _session_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(name: str) -> None:
    """Sign this browser in as an ops user (and drop everyone's ended sessions)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    hours = timedelta(hours=runtime().settings.OPS_SESSION_HOURS)
    with transaction(runtime().sessions) as db:
        db.execute(delete(OpsSession).where(OpsSession.expires_at <= now))
        db.add(OpsSession(id_hash=_session_hash(token), user_name=name, created_at=now,
                          expires_at=now + hours))
    session.clear()
    session[SESSION_KEY] = token


def end_session() -> None:
    """Sign this browser out, on the server as well as in the cookie."""
    token = session.pop(SESSION_KEY, None)
    if isinstance(token, str):
        with transaction(runtime().sessions) as db:
            db.execute(delete(OpsSession).where(OpsSession.id_hash == _session_hash(token)))


def current_user() -> str | None:
    """Return the ops user this browser is signed in as, if the session is still live."""
    if "ops_user" not in g:
        g.ops_user = _live_user(session.get(SESSION_KEY))
    return g.ops_user


def _live_user(token: object) -> str | None:
    if not isinstance(token, str) or not token:
        return None
    with runtime().read_sessions() as db:
        return db.scalar(
            select(OpsSession.user_name)
            .join(OpsUser, OpsUser.name == OpsSession.user_name)
            .where(OpsSession.id_hash == _session_hash(token), OpsSession.expires_at > utcnow()))


def _bearer_is_ops_token() -> bool:
    expected = runtime().settings.OPS_TOKEN
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    presented = header.removeprefix("Bearer ").strip()
    # Bytes: compare_digest refuses str with characters outside ASCII (a 500, not a 401).
    return hmac.compare_digest(presented.encode(), expected.encode())


def current_actor() -> str | None:
    """Return who is making this request: an ops user, "ops-token", or None."""
    user = current_user()
    if user:
        return user
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
        if not current_user():
            abort(401, message="Log in to /ops to do this.")
        return view(*args, **kwargs)

    return guarded
