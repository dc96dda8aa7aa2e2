"""Pages opened from links in emails. A GET only shows a button: mail scanners follow links, and
nothing may change (or a single-use link be spent) until the person presses it."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for

from partnermatch.services.api.web import bp
from partnermatch.services.api.web.common import (
    link_payload,
    page,
    sessions,
    sign_in,
    signed_in_id,
)
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Introduction, Profile
from partnermatch.shared.db.statuses import IntroductionStatus
from partnermatch.shared.notifications import links
from partnermatch.shared.notifications.delivery import display_name
from partnermatch.shared.notifications.owed import unsubscribe
from partnermatch.shared.recommendations import introductions
from partnermatch.shared.recommendations.confirmation import confirm_address
from partnermatch.shared.recommendations.feedback import record_feedback
from partnermatch.shared.reference.taxonomy import SERVICE_AREAS

ONE_CLICK = "One-Click"  # RFC 8058: the body of a List-Unsubscribe-Post request


def _linked_profile(db, payload: dict) -> Profile:
    """Return the profile a link names, if it still has the address the link was sent to."""
    profile = db.get(Profile, payload.get("p"))
    if profile is None or profile.contact_email != payload.get("e"):
        abort(404, "This link is for a profile that no longer exists or has a new address.")
    return profile


def _summary(error: str | None, field: str) -> list[dict[str, str]]:
    return [{"text": error, "href": f"#{field}"}] if error else []


@bp.route("/open/<token>", methods=["GET", "POST"])
def open_profile(token: str):
    """Open a profile from its private link, then continue at a clean address."""
    payload = link_payload(links.MANAGE, token)
    with transaction(sessions()) as db:
        profile = _linked_profile(db, payload)
        if request.method == "GET":
            return page("open.html", name=display_name(profile))
        first = links.use_once(db, links.MANAGE, payload)
        profile_id = profile.id
    if not first and signed_in_id() != profile_id:
        return page("used_link.html", 410)
    sign_in(profile_id)
    return redirect(url_for("web.profile_page"), code=303)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """Confirm the address; recommendations already waiting are then emailed."""
    payload = link_payload(links.CONFIRM, token)
    with transaction(sessions()) as db:
        profile = _linked_profile(db, payload)
        if request.method == "GET":
            return page("confirm.html", email=payload["e"], name=display_name(profile))
        confirm_address(db, payload["e"])
        first = links.use_once(db, links.CONFIRM, payload)
        profile_id = profile.id
    if not first and signed_in_id() != profile_id:
        return redirect(url_for("web.confirmed"), code=303)
    sign_in(profile_id)
    flash("Your email address is confirmed. We will email your recommendations to it.")
    return redirect(url_for("web.profile_page"), code=303)


@bp.get("/confirmed")
def confirmed():
    """Say an address is confirmed, to someone who used the link before."""
    return page("confirmed.html")


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe_page(token: str):
    """Stop recommendation emails; also answers one-click List-Unsubscribe-Post requests."""
    payload = link_payload(links.UNSUBSCRIBE, token)
    if request.method == "GET":
        return page("unsubscribe.html", email=payload["e"])
    if request.form.get("List-Unsubscribe") != ONE_CLICK:
        current_app.extensions["csrf"].protect()  # the view is exempt only for one-click posts
    with transaction(sessions()) as db:
        unsubscribe(db, payload["e"])
    return page("unsubscribed.html", email=payload["e"])


@bp.route("/feedback/<token>", methods=["GET", "POST"])
def feedback(token: str):
    """Ask, then record, whether a recommended partner was useful."""
    payload = link_payload(links.FEEDBACK, token)
    with transaction(sessions()) as db:
        partner = db.get(Profile, payload.get("p"))
        name = display_name(partner) if partner else "this partner"
        answer = request.form.get("useful")
        if request.method == "GET" or answer not in ("yes", "no"):
            error = "Select yes if the recommendation was useful" if answer is not None or \
                request.method == "POST" else None
            chosen = answer or ("yes" if payload.get("u") == 1 else "no")
            return page("feedback.html", 400 if error else 200, name=name, chosen=chosen,
                        error=error, summary=_summary(error, "useful"))
        if not record_feedback(db, payload.get("r"), payload.get("p"), answer == "yes"):
            abort(404, "This recommendation no longer exists.")
    return page("feedback_thanks.html")


@bp.route("/introductions/<token>", methods=["GET", "POST"])
def introduction(token: str):
    """Let a partner accept or decline being introduced to a council that asked."""
    payload = link_payload(links.INTRODUCTION, token)
    with transaction(sessions()) as db:
        asked = db.get(Introduction, payload.get("i"))
        if asked is None:
            abort(404, "This introduction no longer exists: the council that asked has left.")
        requester = db.get(Profile, asked.requester_profile_id)
        context = {"requester": display_name(requester), "introduction": asked,
                   "areas": [SERVICE_AREAS.get(area, area)
                             for area in introductions.areas_asked_about(db, asked)]}
        decision = request.form.get("decision")
        if asked.status != IntroductionStatus.REQUESTED or request.method == "GET":
            return page("introduction.html", error=None, **context)
        if decision not in ("accept", "decline"):
            error = "Select whether to accept the introduction"
            return page("introduction.html", 400, error=error,
                        summary=_summary(error, "decision"), **context)
        introductions.decide(db, asked, decision == "accept")
    return page("introduction_done.html", accepted=decision == "accept", **context)
