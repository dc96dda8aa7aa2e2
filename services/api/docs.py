"""The API reference at /api/docs: ReDoc, served from static/vendor like every other asset.

ReDoc comes from its pinned npm package (frontend/build.sh), so the page loads nothing from
another site and runs under the same Content Security Policy as the rest of the service: its
styles carry the response's nonce (static/api-docs.js hands it to ReDoc).
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

bp = Blueprint("docs", __name__, template_folder="templates")


@bp.get("/api/docs")
def api_reference():
    """Render the OpenAPI document (/openapi.json) with ReDoc."""
    return render_template("api_docs.html")


def init_app(app: Flask) -> None:
    """Serve the API reference."""
    app.register_blueprint(bp)
