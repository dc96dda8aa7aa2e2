"""The private profile page: view, change (which matches again) or delete; ask for a new link."""

from __future__ import annotations

from flask import flash, jsonify, redirect, request, url_for
from marshmallow import ValidationError

from partnermatch.services.api.runtime import runtime
from partnermatch.services.api.web import bp
from partnermatch.services.api.web.answers import summary_rows, validate
from partnermatch.services.api.web.common import (
    needs_sign_in,
    page,
    sessions,
    sign_out,
    signed_in_profile,
)
from partnermatch.services.api.web.forms import details_answers
from partnermatch.services.api.web.intake import details_page
from partnermatch.services.api.web.status import match_status, progress
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.notifications.owed import (
    ConfirmationLimitReached,
    owe_confirmation,
    request_profile_links,
)
from partnermatch.shared.profiles import store as profiles
from partnermatch.shared.profiles.schemas import EmailAddress
from partnermatch.shared.recommendations import introductions


@bp.get("/profile")
def profile_page():
    """Show the signed-in profile: recommendations, answers, and what can be done with them."""
    with sessions()() as db:
        profile = signed_in_profile(db)
        if profile is None:
            return needs_sign_in()
        answers = {**profile.fields, "gss_code": profile.gss_code}
        edit = url_for("web.edit_profile")
        rows = summary_rows(answers, profile.council, lambda field: f"{edit}#{field}")
        return page("profile.html", rows=rows, **progress(db, profile))


@bp.get("/profile/status.json")
def profile_status():
    """Say whether matching has finished, for the page's script to know when to reload."""
    with sessions()() as db:
        profile = signed_in_profile(db)
        if profile is None:
            return jsonify({"status": "signed-out"}), 401
        return jsonify({"status": match_status(db, profile)})


@bp.route("/profile/edit", methods=["GET", "POST"])
def edit_profile():
    """Change the profile's answers; the new version is matched again."""
    try:
        with transaction(sessions()) as db:
            profile = signed_in_profile(db)
            if profile is None:
                return needs_sign_in()
            if request.method == "GET":
                return details_page(profile.kind, profile.council, profile.fields, {},
                                    editing=True)
            response = _change(db, profile)
            if response is not None:
                return response
    except ConfirmationLimitReached:  # rolled back: nothing changed
        return page("error.html", 429, title="You have changed your email address too often",
                    message="We can only send a few confirmation emails for a profile each day. "
                    "Nothing was saved this time. Try again tomorrow.")
    flash("Your profile has been updated. We are finding partners for it again.")
    return redirect(url_for("web.profile_page"), code=303)


def _change(db, profile):
    """Store the form's answers as the profile's new version, or return the page with errors."""
    answers = details_answers(profile.kind, request.form)
    document = {"kind": profile.kind, **answers}
    if profile.kind == "council":
        document["gss_code"] = profile.gss_code
    fields, errors = validate(db, document)
    if errors:
        return details_page(profile.kind, profile.council, answers, errors, 400, editing=True)
    profiles.update_profile(db, profile, fields)
    owe_confirmation(db, profile, runtime().confirmation)
    return None


@bp.route("/profile/delete", methods=["GET", "POST"])
def delete_profile():
    """Ask, then erase the profile, its recommendations and its contact details."""
    with transaction(sessions()) as db:
        profile = signed_in_profile(db)
        if profile is None:
            return needs_sign_in()
        if request.method == "GET":
            return page("delete.html", **progress(db, profile))
        profiles.erase_profile(db, profile)
    sign_out()
    return redirect(url_for("web.profile_deleted"), code=303)


@bp.get("/profile/deleted")
def profile_deleted():
    """Say the profile has gone."""
    return page("deleted.html")


@bp.post("/profile/sign-out")
def sign_out_page():
    """Forget the profile in this browser."""
    sign_out()
    return redirect(url_for("web.start"), code=303)


@bp.post("/profile/introductions")
def request_introduction():
    """Ask a recommended partner that did not share its contact details to be introduced."""
    with transaction(sessions()) as db:
        profile = signed_in_profile(db)
        if profile is None:
            return needs_sign_in()
        try:
            introductions.request_introduction(db, profile, request.form.get("partner_id", ""))
        except introductions.IntroductionRefused as refused:
            flash(str(refused), "error")
            return redirect(url_for("web.profile_page"), code=303)
    flash("We have asked them. If they accept, we will email you their contact details.")
    return redirect(url_for("web.profile_page"), code=303)


@bp.route("/profile/link", methods=["GET", "POST"])
def request_link():
    """Email a link to an address's profiles, saying the same whether or not there are any."""
    expired = request.args.get("expired") == "1"
    if request.method == "GET":
        return page("request_link.html", expired=expired, errors={}, address="")
    address = request.form.get("email", "").strip()
    try:
        address = EmailAddress().deserialize(address)
    except ValidationError:
        error = {"email": "Enter an email address in the correct format, like name@council.gov.uk"}
        return page("request_link.html", 400, expired=expired, errors=error, address=address,
                    summary=[{"text": error["email"], "href": "#email"}])
    with transaction(sessions()) as db:
        request_profile_links(db, address)  # looked up by a worker: same time, known or not
    return redirect(url_for("web.link_sent"), code=303)


@bp.get("/profile/link/sent")
def link_sent():
    """Say a link is on its way if the address has a profile, without saying whether it has."""
    return page("link_sent.html")
