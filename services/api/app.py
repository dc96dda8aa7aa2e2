"""The Flask app factory: configuration, the database, the JSON API and its OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from partnermatch.config.settings import load_settings
from partnermatch.services.api import (
    docs,
    errors,
    health,
    metrics,
    ops,
    profiles,
    ratelimit,
    reference,
    request_log,
    security,
    web,
)
from partnermatch.services.api import runtime as runtime_module

MAX_BODY_BYTES = 64 * 1024


def create_app(test_config: Mapping[str, object] | None = None) -> Flask:
    """Create the app; tests pass settings as a mapping."""
    settings = load_settings(test_config)
    app = Flask(__name__)
    app.config.update(settings.as_flask_config())
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_PARTS=200,
        JSON_SORT_KEYS=False,
        API_TITLE="partnermatch",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Find partner councils and suppliers: strong where you are "
                     "weak, alike in circumstances. Every error has the shape of ErrorSchema."},
            "components": {"securitySchemes": {"profileToken": {"type": "http",
                                                                "scheme": "bearer"}}},
        },
    )
    runtime_module.init_app(app, settings)
    talisman = security.init_app(app, settings)
    api = errors.PartnermatchApi(app)
    api.spec.components.schema("ErrorSchema", schema=_error_schema())
    errors.init_app(app)
    api.register_blueprint(profiles.blp)
    api.register_blueprint(reference.blp)
    api.register_blueprint(health.blp)
    _document_profiles(api.spec)
    docs.init_app(app)
    web.init_app(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(metrics.bp)
    metrics.init_app(app)
    request_log.init_app(app)
    csrf = CSRFProtect(app)
    for blueprint in (profiles.blp, reference.blp, health.blp):
        csrf.exempt(blueprint)  # the JSON API authenticates with bearer tokens, not cookies
    csrf.exempt(web.emailed.unsubscribe_page)  # checks CSRF itself unless RFC 8058 one-click
    security.relax_for_probes(app, talisman)
    ratelimit.init_app(app, settings)
    return app


def _document_profiles(spec) -> None:
    from partnermatch.services.api.schemas import document_profiles as document

    document(spec)


def _error_schema():
    from partnermatch.services.api.schemas import ErrorSchema

    return ErrorSchema
