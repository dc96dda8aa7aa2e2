"""The council and supplier forms: choose a council, details, check answers, submit once."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, session, url_for
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from partnermatch.services.api.runtime import runtime
from partnermatch.services.api.web import bp
from partnermatch.services.api.web.answers import (
    councils,
    form_errors,
    offered_areas,
    summary_rows,
    validate,
)
from partnermatch.services.api.web.common import (
    page,
    sessions,
    settings,
    sign_in,
    signed_in_id,
    signed_in_profile,
)
from partnermatch.services.api.web.forms import (
    COUNCIL_FIELDS,
    SUPPLIER_FIELDS,
    details_answers,
    error_summary,
)
from partnermatch.services.api.web.status import progress
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import Council, FormDraft, Profile
from partnermatch.shared.profiles import drafts
from partnermatch.shared.profiles import store as profiles
from partnermatch.shared.profiles.schemas import REGIONS, SCHEMAS, CouncilProfileSchema
from partnermatch.shared.profiles.submit import submit_profile
from partnermatch.shared.reference.taxonomy import COUNCIL_TYPES, SERVICE_AREAS

DRAFT_KEY = "draft"


def _draft(db: Session, kind: str) -> FormDraft | None:
    draft = drafts.find_draft(db, session.get(DRAFT_KEY))
    return draft if draft and draft.kind == kind and draft.submitted_at is None else None


def _new_draft(db: Session, kind: str) -> FormDraft:
    draft = drafts.start_draft(db, kind)
    session[DRAFT_KEY] = draft.id
    return draft


@bp.route("/council/new", methods=["GET", "POST"])
def choose_council():
    """Ask which council the person works for."""
    with transaction(sessions()) as db:
        draft = _draft(db, "council")
        chosen = (draft.answers.get("gss_code") if draft else None) or ""
        if request.method == "GET":
            return _choose_page(db, chosen)
        chosen = request.form.get("gss_code", "")
        council, error = _council_from(db, chosen)
        if council is None:
            return _choose_page(db, chosen, error, 400)
        draft = draft or _new_draft(db, "council")
        _change_council(draft, council)
    return redirect(url_for("web.details", kind="council"), code=303)


def _choose_page(db: Session, chosen: str, error: str | None = None, status: int = 200):
    errors = {"gss_code": error} if error else {}
    return page("choose_council.html", status, councils=councils(db), chosen=chosen,
                errors=errors, summary=error_summary(errors, ["gss_code"], []))


def _council_from(db: Session, code: str) -> tuple[Council | None, str | None]:
    """Check the chosen code with the schema's own rule, then against the register."""
    try:
        CouncilProfileSchema(only=("gss_code",)).load({"gss_code": code})
    except ValidationError:
        return None, "Select your council from the list"
    council = profiles.resolve_council(db, code)
    return (council, None) if council else (None, "Select your council from the list")


def _change_council(draft: FormDraft, council: Council) -> None:
    """Keep only the ratings the newly chosen council can give."""
    offered = set(offered_areas(council))
    ratings = {a: r for a, r in draft.answers.get("ratings", {}).items() if a in offered}
    drafts.save_answers(draft, {"gss_code": council.gss_code, "ratings": ratings})


@bp.route("/<any(council, supplier):kind>/details", methods=["GET", "POST"])
def details(kind: str):
    """Ask about the services, needs, strengths and contact, then go on to check them."""
    with transaction(sessions()) as db:
        draft = _draft(db, kind)
        if draft is None and kind == "council":
            return redirect(url_for("web.choose_council"), code=303)
        draft = draft or _new_draft(db, kind)
        council = _council_of(db, draft.answers)
        if request.method == "GET":
            return details_page(kind, council, draft.answers, {})
        answers = details_answers(kind, request.form)
        document = {"kind": kind, **draft.answers, **answers}
        fields, errors = validate(db, document)
        if errors:
            return details_page(kind, council, answers, errors, status=400)
        drafts.save_answers(draft, {name: fields[name] for name in answers if name in fields})
    return redirect(url_for("web.check"), code=303)


def _council_of(db: Session, answers: dict[str, Any]) -> Council | None:
    code = answers.get("gss_code")
    return db.get(Council, code) if code else None


def details_page(kind: str, council: Council | None, answers: dict[str, Any], errors: dict,
                 status: int = 200, editing: bool = False):
    """Render the details form for a new or existing profile."""
    areas = offered_areas(council)
    order = COUNCIL_FIELDS if kind == "council" else SUPPLIER_FIELDS
    action = url_for("web.edit_profile") if editing else url_for("web.details", kind=kind)
    council_type = COUNCIL_TYPES.get(council.council_type, "council") if council else ""
    return page(f"{kind}_details.html", status, council=council, areas=areas, answers=answers,
                errors=errors, summary=error_summary(errors, order, areas), action=action,
                editing=editing, area_names=SERVICE_AREAS, council_type_name=council_type.lower(),
                region_items=[{"value": region, "text": region} for region in REGIONS])


@bp.route("/check", methods=["GET", "POST"])
def check():
    """Show the answers with links to change them; submitting stores the profile once."""
    if request.method == "POST":
        return _submit(request.form.get("submission_key", ""))
    with sessions()() as db:
        draft = drafts.find_draft(db, session.get(DRAFT_KEY))
        if draft is None or draft.submitted_at is not None or not _complete(draft):
            return redirect(url_for("web.start"), code=303)
        return _check_page(db, draft, {})


def _complete(draft: FormDraft) -> bool:
    return "contact_email" in draft.answers


def _check_page(db: Session, draft: FormDraft, errors: dict, status: int = 200):
    council = _council_of(db, draft.answers)
    details_url = url_for("web.details", kind=draft.kind)

    def change(field: str) -> str:
        return url_for("web.choose_council") if field == "gss_code" else f"{details_url}#{field}"

    summary = [{"text": message, "href": details_url} for message in errors.values()]
    return page("check.html", status, kind=draft.kind, draft=draft, summary=summary,
                rows=summary_rows(draft.answers, council, change))


def _submit(key: str):
    """Store the draft's profile, or find the one an earlier press of the button stored.

    Only the browser that filled in the draft is signed in to the profile: the draft's key is in
    the page, and whoever else holds it gets a page that points to the emailed link instead.
    """
    made_here = session.get(DRAFT_KEY) == key
    try:
        with transaction(sessions()) as db:
            draft = drafts.find_draft(db, key)
            if draft is None:
                abort(404, "This form has expired. Start again from the beginning.")
            profile_id, _first = drafts.submit_draft(db, draft, lambda a: _create(db, draft, a))
    except ValidationError as error:  # nothing was stored: the transaction rolled back
        with sessions()() as db:
            return _check_page(db, drafts.find_draft(db, key), error.messages, 400)
    if profile_id is None:
        abort(404, "This form was sent and the profile has since been deleted.")
    if not (made_here or signed_in_id() == profile_id):
        return page("error.html", title="Your profile has been sent",
                    message="To open it, use the link in the email we send to the address "
                    "given in the form.")
    sign_in(profile_id)
    session.pop(DRAFT_KEY, None)
    return redirect(url_for("web.submitted"), code=303)


def _create(db: Session, draft: FormDraft, answers: dict[str, Any]) -> Profile:
    """Store the draft's profile with the API's use case; errors come back in the form's words."""
    try:
        fields = SCHEMAS[draft.kind]().load({"kind": draft.kind, **answers})
        submitted = submit_profile(db, fields, settings().ALLOWED_EMAIL_DOMAINS,
                                   runtime().confirmation)
    except ValidationError as error:
        raise ValidationError(form_errors(error)) from error
    return submitted.profile  # the web uses emailed links, not the token


@bp.get("/submitted")
def submitted():
    """Say the profile was received, show progress, then the recommendations when ready."""
    with sessions()() as db:
        profile = signed_in_profile(db)
        if profile is None:
            return redirect(url_for("web.start"), code=303)
        return page("submitted.html", **progress(db, profile))

