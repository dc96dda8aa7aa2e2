"""Who and what the app believes: proxies, Host headers, and the headers every response carries.

`X-Forwarded-*` headers are believed only from the TRUSTED_PROXY_COUNT proxies in front (werkzeug's
ProxyFix), so `request.remote_addr`, which the rate limiter counts by, cannot be spoofed by a
client. Host headers are checked against ALLOWED_HOSTS (in production, PUBLIC_BASE_URL's host and
loopback for the container's health probe). Flask-Talisman sends the Content Security Policy, with
a nonce per response for the one inline script of the GOV.UK template, and HSTS with FORCE_HTTPS.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

from partnermatch.config.settings import Settings

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Probes come over plain HTTP from inside the host (the container health check, Prometheus).
PROBES = ("health.healthz", "health.readyz", "metrics.metrics")
LOOPBACK = ("localhost", "127.0.0.1")


def allowed_hosts(settings: Settings) -> list[str] | None:
    """Return the Host names to accept, or None for any (development and test by default)."""
    if settings.ALLOWED_HOSTS:
        return list(settings.ALLOWED_HOSTS)
    if settings.PARTNERMATCH_ENV != "production":
        return None
    public = urlsplit(settings.PUBLIC_BASE_URL).hostname
    return [public, *LOOPBACK] if public else list(LOOPBACK)


def init_app(app: Flask, settings: Settings) -> Talisman:
    """Believe forwarded headers only from trusted proxies, check Host, send security headers."""
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    app.config["TRUSTED_HOSTS"] = allowed_hosts(settings)
    secure = settings.PUBLIC_BASE_URL.startswith("https://") or settings.FORCE_HTTPS
    talisman = Talisman(
        app,
        force_https=settings.FORCE_HTTPS,
        strict_transport_security=settings.FORCE_HTTPS,
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src", "style-src"],
        frame_options="DENY",
        referrer_policy="no-referrer",  # links from emails carry tokens
        session_cookie_secure=secure,
        session_cookie_samesite="Lax",
    )
    return talisman


def relax_for_probes(app: Flask, talisman: Talisman) -> None:
    """Never redirect the internal probes to HTTPS."""
    for endpoint in PROBES:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = talisman(force_https=False)(
                _plain(app.view_functions[endpoint]))


def _plain(view):
    """Wrap a view (possibly a bound method) in a function Talisman can mark."""

    def view_function(*args, **kwargs):
        return view(*args, **kwargs)

    view_function.__name__ = getattr(view, "__name__", "view")
    view_function.__doc__ = getattr(view, "__doc__", None)
    return view_function
