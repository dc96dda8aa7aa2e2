"""Response schemas: they shape the JSON and document it in /openapi.json."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from partnermatch.shared.db.statuses import RunStatus
from partnermatch.shared.profiles.schemas import Text


class ErrorSchema(Schema):
    """The one error envelope."""

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), required=True,
        metadata={"description": "Messages keyed by dotted field path; {} when there are none"},
    )


class LinksSchema(Schema):
    self = fields.String(required=True)
    matches = fields.String(required=True)


class ProfileCreatedSchema(Schema):
    """What a new profile gets back: keep the token, it is shown only once."""

    id = fields.UUID(required=True)
    token = fields.String(required=True, metadata={"description": "Send as Authorization: Bearer"})
    status = fields.String(required=True, metadata={"example": RunStatus.PENDING.value})
    links = fields.Nested(LinksSchema, required=True)


class ProfileOutSchema(Schema):
    """A stored profile with its register details (councils) and bookkeeping."""

    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    gss_code = fields.String(metadata={"description": "Councils only"})
    contact_name = fields.String(required=True)
    contact_email = fields.String(required=True)
    share_contact = fields.Boolean(required=True)
    ratings = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    needs_text = fields.String()
    strengths_text = fields.String()
    seeking = fields.List(fields.String())
    capacity_to_support = fields.String()
    regions_served = fields.List(fields.String(), metadata={"description": "Suppliers only"})
    description = fields.String()
    evidence_text = fields.String()
    company_number = fields.String(allow_none=True)
    name = fields.String()
    council_type = fields.String()
    region = fields.String()
    population = fields.Integer(allow_none=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    email_confirmed = fields.Boolean(required=True)


class TokenSchema(Schema):
    token = fields.String(required=True)


class MatchesQuerySchema(Schema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class PartnerSchema(Schema):
    partner_id = fields.UUID(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["council", "supplier"]})
    gss_code = fields.String(allow_none=True, required=True)
    score = fields.Float(required=True, metadata={"minimum": 0, "maximum": 1})
    strength_rating = fields.Integer(required=True)
    reasons = fields.List(fields.String(), required=True)


class NeedSchema(Schema):
    service_area = fields.String(required=True)
    rating = fields.Integer(required=True)
    partners = fields.List(fields.Nested(PartnerSchema), required=True, metadata={
        "description": "Best first; empty while no partner is strong in this area."})


class MatchesSchema(Schema):
    """Recommendations for the latest version of a profile."""

    profile_id = fields.UUID(required=True)
    profile_version = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": [status.value for status in RunStatus]})
    model_version = fields.String(allow_none=True, required=True)
    generated_at = fields.DateTime(allow_none=True, required=True)
    needs = fields.List(fields.Nested(NeedSchema), required=True, metadata={
        "description": "Once ready, every area the profile rated 1 or 2, weakest first."})


class ServiceAreaSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    delivered_by = fields.List(fields.String(), required=True)


class ServiceAreasSchema(Schema):
    items = fields.List(fields.Nested(ServiceAreaSchema), required=True)


class CouncilSearchQuerySchema(Schema):
    q = Text(load_default="", max_length=100)


class CouncilSchema(Schema):
    gss_code = fields.String(required=True)
    name = fields.String(required=True)
    council_type = fields.String(required=True)
    region = fields.String(required=True)


class CouncilsSchema(Schema):
    items = fields.List(fields.Nested(CouncilSchema), required=True)


class SimilarQuerySchema(Schema):
    service_area = fields.String(load_default=None)
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class SimilarCouncilSchema(Schema):
    gss_code = fields.String(required=True)
    name = fields.String(required=True)
    similarity = fields.Float(required=True, metadata={"minimum": 0, "maximum": 1})
    reasons = fields.List(fields.String(), required=True)


class SimilarSchema(Schema):
    items = fields.List(fields.Nested(SimilarCouncilSchema), required=True)


def document_profiles(spec) -> None:
    """Describe a profile body as what it is: a council or a supplier, told apart by `kind`.

    ProfileSchema dispatches on `kind` in code, which apispec cannot see; without this the
    document would say that only `{}` is a valid profile.
    """
    from partnermatch.shared.profiles.schemas import CouncilProfileSchema, SupplierProfileSchema

    refs = {}
    for kind, schema in (("council", CouncilProfileSchema), ("supplier", SupplierProfileSchema)):
        name = f"{kind.capitalize()}Profile"
        spec.components.schema(name, schema=schema)
        _tighten(spec.components.schemas[name]["properties"])
        refs[kind] = f"#/components/schemas/{name}"
    spec.components.schemas["Profile"] = {
        "oneOf": [{"$ref": ref} for ref in refs.values()],
        "discriminator": {"propertyName": "kind", "mapping": refs},
    }


def _tighten(properties: dict) -> None:
    """Say in the document what apispec leaves out: rating keys, the email, the code's case."""
    from partnermatch.shared.reference.taxonomy import SERVICE_AREAS

    rating = properties["ratings"]["additionalProperties"]
    properties["ratings"].update(
        properties={area: dict(rating) for area in SERVICE_AREAS}, additionalProperties=False,
        minProperties=1)
    properties["ratings"].pop("minLength", None)
    properties["contact_email"].update(format="email", maxLength=254)
    if "seeking" in properties:
        properties["seeking"]["uniqueItems"] = True
    if "gss_code" in properties:
        properties["gss_code"]["pattern"] = "^[ENSWKenswk][0-9]{8}$"  # no inline (?i) in ECMA
