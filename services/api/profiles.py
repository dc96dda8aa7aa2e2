"""JSON API v1: profiles. Views validate with the shared schemas and store through the domain."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError

from partnermatch.services.api import idempotency
from partnermatch.services.api.auth import authorised_profile
from partnermatch.services.api.documents import matches_document, profile_document
from partnermatch.services.api.parsing import ApiBlueprint, parse_json_body
from partnermatch.services.api.runtime import runtime
from partnermatch.services.api.schemas import (
    MatchesQuerySchema,
    MatchesSchema,
    ProfileCreatedSchema,
    ProfileOutSchema,
    TokenSchema,
)
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.statuses import RunStatus
from partnermatch.shared.notifications.owed import ConfirmationLimitReached, owe_confirmation
from partnermatch.shared.profiles import store as profiles
from partnermatch.shared.profiles.schemas import ProfileSchema
from partnermatch.shared.profiles.submit import check_submission, submit_profile

blp = ApiBlueprint(
    "profiles", __name__, url_prefix="/api/v1/profiles",
    description="Council and supplier profiles. Reading, changing and deleting one needs its "
    "token as `Authorization: Bearer <token>`.",
)
ERRORS = {400: "Malformed", 409: "Conflict", 413: "Too large", 415: "Not JSON", 429: "Slow down",
          503: "Database unavailable"}
AUTH_ERRORS = {401: "Missing or malformed token", 404: "No such profile, or not your token"}


DAY_SECONDS = 24 * 3600
CONFIRMATIONS_USED = ("This profile has been sent as many confirmation emails as it may be in a "
                      "day; nothing was changed. Try again tomorrow.")
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 1}}}


def _document_errors(codes: dict[int, str]):
    def decorate(view):
        for code, description in codes.items():
            headers = RETRY_AFTER if code in (429, 503) else None
            view = blp.alt_response(code, schema="ErrorSchema", description=description,
                                    headers=headers)(view)
        return view
    return decorate


@blp.route("")
class Profiles(MethodView):
    @blp.arguments(ProfileSchema, example={"kind": "council", "gss_code": "E08000035"})
    @blp.response(201, ProfileCreatedSchema, headers={"Location": {"schema": {"type": "string"}}})
    @_document_errors({**ERRORS, 422: "Invalid fields, or Idempotency-Key reused"})
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": False,
                          "schema": {"type": "string", "maxLength": 255}}])
    def post(self, fields: dict[str, Any]):
        """Submit a council or supplier profile"""
        rt = runtime()
        key = request.headers.get("Idempotency-Key")
        if key is not None:
            key = idempotency.client_key(request.remote_addr or "", key)
            digest = idempotency.request_hash(parse_json_body(request))
            stored = idempotency.claim(rt.sessions, key, digest, rt.settings.SECRET_KEY)
            if stored is not None:
                return stored.body, stored.status, stored.headers
        try:
            return _create(fields, key)
        except BaseException:
            if key is not None:
                idempotency.release(rt.sessions, key)
            raise


def _create(fields: dict[str, Any], key: str | None):
    rt = runtime()
    policy, domains = rt.confirmation, rt.settings.ALLOWED_EMAIL_DOMAINS
    checked = None
    if rt.engine.dialect.name == "sqlite":  # read without the write lock, hold it for the writes
        with rt.read_sessions() as session, session.begin():
            checked = check_submission(session, fields, domains, policy)
    with transaction(rt.sessions) as session:
        submitted = submit_profile(session, fields, domains, policy, checked)
        location = url_for("profiles.ProfileById", profile_id=submitted.profile.id)
        body = {
            "id": submitted.profile.id, "token": submitted.token, "status": RunStatus.PENDING,
            "links": {"self": location, "matches": location + "/matches"},
        }
        headers = {"Location": location}
        if key is not None:
            response = idempotency.StoredResponse(201, body, headers)
            idempotency.store(session, key, response, rt.settings.SECRET_KEY,
                              submitted.profile.id)
    return body, 201, headers


@blp.route("/<uuid:profile_id>")
class ProfileById(MethodView):
    @blp.response(200, ProfileOutSchema)
    @_document_errors({**ERRORS, **AUTH_ERRORS})
    def get(self, profile_id):
        """Read a profile"""
        with runtime().read_sessions() as session:
            profile = authorised_profile(session, profile_id)
            return profile_document(
                profile, profiles.is_confirmed(session, profile.contact_email)
            )

    @blp.arguments(ProfileSchema)
    @blp.response(200, ProfileOutSchema)
    @_document_errors({**ERRORS, **AUTH_ERRORS, 422: "Invalid fields"})
    def put(self, fields: dict[str, Any], profile_id):
        """Replace a profile's editable fields; it is matched again"""
        rt = runtime()
        try:
            with transaction(rt.sessions) as session:
                profile = authorised_profile(session, profile_id)
                _check_identity(session, profile, fields)
                profiles.check_profile(session, fields, rt.settings.ALLOWED_EMAIL_DOMAINS)
                profiles.update_profile(session, profile, fields)
                owe_confirmation(session, profile, rt.confirmation)
                confirmed = profiles.is_confirmed(session, profile.contact_email)
                return profile_document(profile, confirmed)
        except ConfirmationLimitReached:  # rolled back: nothing changed
            abort(429, message=CONFIRMATIONS_USED, headers={"Retry-After": str(DAY_SECONDS)})

    @blp.response(204)
    @_document_errors({**ERRORS, **AUTH_ERRORS})
    def delete(self, profile_id):
        """Erase a profile, its recommendations and contact details"""
        with transaction(runtime().sessions) as session:
            profiles.erase_profile(session, authorised_profile(session, profile_id))


def _check_identity(session, profile, fields: dict[str, Any]) -> None:
    if fields["kind"] != profile.kind:
        raise ValidationError({"kind": ["The kind of a profile cannot change."]})
    if profile.kind == "council":
        council = profiles.resolve_council(session, fields["gss_code"])
        if council is None or council.gss_code != profile.gss_code:
            raise ValidationError({"gss_code": ["The council of a profile cannot change."]})


@blp.route("/<uuid:profile_id>/token", methods=["POST"])
@blp.response(200, TokenSchema)
@_document_errors({**ERRORS, **AUTH_ERRORS})
def rotate_token(profile_id):
    """Issue a new token; the old one stops working"""
    with transaction(runtime().sessions) as session:
        return {"token": profiles.rotate_token(authorised_profile(session, profile_id))}


@blp.route("/<uuid:profile_id>/matches", methods=["GET"])
@blp.arguments(MatchesQuerySchema, location="query")
@blp.response(200, MatchesSchema)
@_document_errors({**ERRORS, **AUTH_ERRORS, 422: "limit outside 1–50"})
def matches(query: dict[str, Any], profile_id):
    """Read the recommendations for the profile's current version"""
    with runtime().read_sessions() as session:
        profile = authorised_profile(session, profile_id)
        return matches_document(session, profile, query["limit"])
