"""Pages reached from the emails: confirm an address, see your matches."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from sqlalchemy import select

from services.api.runtime import runtime
from shared import links
from shared.db import transaction
from shared.models import Profile
from shared.notifications import confirm_address
from shared.results import latest_run, needs_of
from shared.taxonomy import SERVICE_AREAS

bp = Blueprint("web", __name__, template_folder="templates")


def _payload(purpose: str, token: str) -> dict:
    try:
        return links.verify(runtime().settings.SECRET_KEY, purpose, token)
    except links.LinkError as error:
        abort(404, str(error))


@bp.get("/confirm/<token>")
def confirm_form(token: str):
    """Show the confirm button (a GET never changes anything)."""
    payload = _payload(links.CONFIRM, token)
    return render_template("confirm.html", token=token, email=payload["e"])


@bp.post("/confirm/<token>")
def confirm(token: str):
    """Confirm the address; recommendations already waiting are then emailed."""
    payload = _payload(links.CONFIRM, token)
    with transaction(runtime().sessions) as session:
        profile = session.get(Profile, payload["p"])
        if profile is None or profile.contact_email != payload["e"]:
            abort(404, "This link is for a profile that no longer exists.")
        confirm_address(session, payload["e"])
        matches_token = links.sign(runtime().settings.SECRET_KEY, links.MATCHES,
                                   {"p": profile.id})
    return redirect(url_for("web.matches", token=matches_token), code=303)


@bp.get("/matches/<token>")
def matches(token: str):
    """Show the recommendations for a profile (refreshes itself until they are ready)."""
    payload = _payload(links.MATCHES, token)
    with runtime().sessions() as session:
        profile = session.scalar(select(Profile).where(Profile.id == payload["p"]))
        if profile is None:
            abort(404, "This profile no longer exists.")
        run = latest_run(session, profile)
        needs = needs_of(run, 10) if run and run.status == "ready" else []
        name = profile.council.name if profile.council else profile.fields["name"]
        status = run.status if run else "pending"
    return render_template("matches.html", name=name, status=status, needs=needs,
                           areas=SERVICE_AREAS)
