"""Rate limits on submissions, changes, requests for a private link and ops logins, counted in
Redis per client (and per profile, and per ops account).

Clients are told apart by `request.remote_addr`, which ProxyFix sets from `X-Forwarded-For` only
for the TRUSTED_PROXY_COUNT proxies in front (services/api/security.py), so a client cannot spread
its requests over invented addresses. The API and the web form share one submission allowance.

When Redis is down, each process counts in its own memory until Redis answers again (a log line
says so): submissions stay open, because the database's outbox keeps every accepted one safe
while Redis is away, and a burst is still bounded, only per process instead of per service.
"""

from __future__ import annotations

import math
import time

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address

from partnermatch.config.settings import Settings
from partnermatch.services.api.errors import envelope

SUBMISSIONS = {"profiles.Profiles": ["POST"], "web.check": ["POST"]}
LINK_REQUESTS = {"web.request_link": ["POST"]}
OPS_LOGINS = {"ops.login": ["POST"]}
CHANGES = {"profiles.ProfileById": ["PUT"], "web.edit_profile": ["POST"]}
# Short timeouts: a hung Redis must cost a request half a second, not hang it.
REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
DEFAULT_RETRY_AFTER = 60


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Count submissions and link requests per client, in Redis or (without REDIS_URL) memory."""
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.REDIS_URL or "memory://",
        RATELIMIT_STORAGE_OPTIONS=REDIS_OPTIONS if settings.REDIS_URL else {},
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_KEY_PREFIX="partnermatch-limits",
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,  # never turn a limiter fault into a failed submission
    )
    limiter = Limiter(get_remote_address, app=app)
    _apply(app, limiter.shared_limit(lambda: settings.RATE_LIMIT_SUBMIT, scope="submit",
                                     methods=["POST"]), SUBMISSIONS)
    _apply(app, limiter.shared_limit(lambda: settings.RATE_LIMIT_LINK, scope="link",
                                     methods=["POST"]), LINK_REQUESTS)
    _apply(app, limiter.shared_limit(lambda: settings.RATE_LIMIT_OPS_LOGIN, scope="ops-login",
                                     methods=["POST"]), OPS_LOGINS)
    # Changes send confirmation emails when the address changes: limited per client, and per
    # profile (counting only changes made, so a stranger's refused attempts cost its owner none).
    _apply(app, limiter.shared_limit(lambda: settings.RATE_LIMIT_CHANGE, scope="change",
                                     methods=["PUT", "POST"]), CHANGES)
    _apply(app, limiter.shared_limit(lambda: settings.RATE_LIMIT_PROFILE_CHANGE,
                                     scope="profile-change", key_func=_changed_profile,
                                     methods=["PUT", "POST"], deduct_when=_succeeded), CHANGES)
    # Per account as well as per client, so guesses spread over many addresses still stop; only
    # failed attempts count, so the account's owner is not locked out by their own logins.
    _apply(app, limiter.limit(lambda: settings.RATE_LIMIT_OPS_ACCOUNT, key_func=_ops_account,
                              methods=["POST"], deduct_when=_login_failed), OPS_LOGINS)
    app.register_error_handler(RateLimitExceeded, lambda error: too_many(limiter))
    return limiter


def _changed_profile() -> str:
    """The profile a change is for: named in the API's path, or signed in on the website."""
    from partnermatch.services.api.web.common import signed_in_id

    profile_id = (request.view_args or {}).get("profile_id") or signed_in_id()
    return f"profile:{profile_id}" if profile_id else f"signed-out:{get_remote_address()}"


def _succeeded(response) -> bool:
    return response.status_code < 400


def _ops_account() -> str:
    return "ops-account:" + request.form.get("name", "")[:80].strip().lower()


def _login_failed(response) -> bool:
    return response.status_code == 401


def _apply(app: Flask, limit, endpoints: dict[str, list[str]]) -> None:
    for endpoint in endpoints:
        app.view_functions[endpoint] = limit(app.view_functions[endpoint])


def retry_after(limiter: Limiter) -> int:
    """Return the seconds until the breached limit lets this client in again."""
    try:
        current = limiter.current_limit
        if current is not None:
            return max(1, math.ceil(current.window.reset_time - time.time()))
    except Exception:  # noqa: BLE001 - the storage went away between the hit and now
        limiter.logger.warning("rate limit window unknown; suggesting %ss", DEFAULT_RETRY_AFTER)
    return DEFAULT_RETRY_AFTER


def too_many(limiter: Limiter):
    """Answer a client over its limit: the error envelope for the API, a page for people."""
    seconds = retry_after(limiter)
    headers = {"Retry-After": str(seconds)}
    if request.blueprint == "web":
        from partnermatch.services.api.web.common import page

        minutes = max(1, math.ceil(seconds / 60))
        body, status = page("error.html", 429, title="You have sent this too many times",
                            message="To protect the service, we limit how often a form can be "
                            f"sent. Nothing was saved this time. Try again in {minutes} "
                            f"minute{'s' if minutes > 1 else ''}.")
        return body, status, headers
    response, status = envelope(429, f"Too many requests; try again in {seconds} seconds.")
    response.headers.update(headers)
    return response, status
