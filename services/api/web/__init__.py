"""The website: start page, the council and supplier forms, the private profile page, email links.

Pages use GOV.UK Frontend through govuk-frontend-jinja (assets built at setup into static/vendor),
without the crown or the GDS Transport font, since this service is not on GOV.UK.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Flask, has_request_context, request
from flask_wtf.csrf import CSRFError
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from partnermatch.services.api.web.common import page
from partnermatch.shared.reference.taxonomy import SERVICE_AREAS

bp = Blueprint("web", __name__, template_folder="templates")
DB_RETRY_AFTER_SECONDS = 5
ERROR_TITLES = {400: "There was a problem with your request", 404: "Page not found",
                405: "Page not found", 413: "What you sent is too large"}


def init_app(app: Flask) -> None:
    """Register the pages and let templates import the GOV.UK Frontend macros."""
    from partnermatch.services.api.web import emailed, intake, pages, profile  # noqa: F401 - adds routes

    app.jinja_loader = ChoiceLoader([
        app.jinja_loader,
        PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
    ])
    secure = app.config["PUBLIC_BASE_URL"].startswith("https://") or app.config["FORCE_HTTPS"]
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=secure,
                      SESSION_COOKIE_NAME="partnermatch_session")
    app.register_blueprint(bp)


@bp.app_context_processor
def _template_globals() -> dict[str, object]:
    # Flask-Talisman (services/api/security.py) makes the nonce and puts it in the CSP header.
    nonce = getattr(request, "csp_nonce", "") if has_request_context() else ""
    return {"cspNonce": nonce, "area_names": SERVICE_AREAS}


# A global, not a context variable: macros imported without context (pages/_recommendations.html)
# see the environment's globals but not what context processors add.
@bp.app_template_global("mailto")
def _mailto(address: str) -> str:
    """Return a mailto: link to exactly one address, which no "?" or "&" can extend."""
    return "mailto:" + quote(address, safe="@+")


@bp.after_request
def _headers(response):
    """Keep pages out of caches (the CSP and other headers come from services/api/security.py)."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError):
    return page("error.html", 400, title="Your form has expired",
                message="For your security, forms expire after an hour or when they come from "
                "another site. Go back, reload the page and try again.")


@bp.errorhandler(DBAPIError)
def _database_down(error: DBAPIError):
    body, status = page("error.html", 503, title="Sorry, the service is unavailable",
                        message="Nothing you sent has been saved. Try again in a few minutes.")
    return body, status, {"Retry-After": str(DB_RETRY_AFTER_SECONDS)}


@bp.errorhandler(HTTPException)
def http_error_page(error: HTTPException):
    """Answer an HTTP error with a GOV.UK page (the API's paths answer with JSON instead)."""
    code = error.code or 500
    title = ERROR_TITLES.get(code, "Sorry, there is a problem")
    message = error.description if code == 404 and request.blueprint == "web" else None
    body, status = page("error.html", code, title=title, message=message)
    headers = {"Allow": error.get_response().headers["Allow"]} if code == 405 else {}
    return body, status, headers
