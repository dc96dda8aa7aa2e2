"""Marshmallow schemas for council and supplier profiles: the one definition of valid input."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from partnermatch.shared.reference.taxonomy import SERVICE_AREAS

MAX_TEXT = 5_000
MAX_NAME = 200
REGIONS = (
    "North East", "North West", "Yorkshire and The Humber", "East Midlands", "West Midlands",
    "East of England", "London", "South East", "South West", "Scotland", "Wales",
    "Northern Ireland",
)
# Invisible characters that can disguise a name (bidi overrides, zero-width joiners).
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,63}")


class Text(fields.String):
    """A string normalised to NFC, free of control characters and invisible formatting."""

    def __init__(self, *, multiline: bool = False, max_length: int = MAX_NAME, **kwargs: Any):
        super().__init__(validate=validate.Length(max=max_length), **kwargs)
        self.multiline = multiline

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
        allowed = {"\n", "\t"} if self.multiline else set()
        text = text.replace("\r\n", "\n") if self.multiline else text
        if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in text):
            raise ValidationError("Must not contain control characters.")
        return text.strip()


class RequiredText(Text):
    """Text that must have something other than whitespace in it."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text:
            raise ValidationError("Must not be blank.")
        return text


class EmailAddress(fields.String):
    """An email address we are willing to write to: one mailbox, a real domain, no tricks."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        address = super()._deserialize(value, attr, data, **kwargs)
        if len(address) > 254 or not _EMAIL.fullmatch(address):
            raise ValidationError("Enter an email address like name@council.gov.uk.")
        domain = address.rsplit("@", 1)[1]
        try:
            ipaddress.ip_address(domain)
        except ValueError:
            return address[: address.index("@")] + "@" + domain.lower()
        raise ValidationError("Enter an email address with a domain name, not an IP address.")


class StrictInteger(fields.Integer):
    """An integer given as a JSON number: not a string, not a boolean, not 3.5."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON true or false, nothing that merely looks like one."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _ratings_field(description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.OneOf(list(SERVICE_AREAS))),
        values=StrictInteger(validate=validate.Range(min=1, max=5)),
        required=True,
        validate=validate.Length(min=1, error="Rate at least one service area."),
        metadata={"description": description},
    )


class ProfileBase(Schema):
    """Fields common to councils and suppliers."""

    class Meta:
        unknown = RAISE
        ordered = True

    contact_name = RequiredText(required=True)
    contact_email = EmailAddress(required=True)
    share_contact = StrictBoolean(load_default=False)


class CouncilProfileSchema(ProfileBase):
    """A council's profile: how it rates its services and what it seeks."""

    kind = fields.String(required=True, validate=validate.Equal("council"))
    gss_code = fields.String(
        required=True,
        validate=validate.Regexp(r"(?i)^[ENSWK]\d{8}$", error="Enter a GSS code like E08000035."),
        metadata={"description": "A current council in the register, or one of its former codes"},
    )
    ratings = _ratings_field("Service area → 1..5 (1–2 struggling, 3 fair, 4–5 strong)")
    needs_text = Text(multiline=True, max_length=MAX_TEXT, load_default="")
    strengths_text = Text(multiline=True, max_length=MAX_TEXT, load_default="")
    seeking = fields.List(
        fields.String(validate=validate.OneOf(["council", "supplier"])),
        load_default=lambda: ["council", "supplier"],
        validate=validate.Length(min=1, max=2),
    )
    capacity_to_support = fields.String(
        load_default="none", validate=validate.OneOf(["none", "limited", "available"])
    )

    @validates("seeking")
    def _distinct(self, value: list[str], **_: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("List each kind of partner once.")

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["gss_code"] = data["gss_code"].upper()
        return data


class SupplierProfileSchema(ProfileBase):
    """A supplier's profile: the service areas it is strong in, with evidence."""

    kind = fields.String(required=True, validate=validate.Equal("supplier"))
    name = RequiredText(required=True)
    ratings = _ratings_field("Service area → capability 1..5")
    regions_served = fields.List(
        fields.String(validate=validate.OneOf(REGIONS)), load_default=list,
        validate=validate.Length(max=len(REGIONS)),
    )
    description = Text(multiline=True, max_length=MAX_TEXT, load_default="")
    evidence_text = Text(multiline=True, max_length=MAX_TEXT, load_default="")
    company_number = fields.String(
        load_default=None, allow_none=True,
        validate=validate.Regexp(r"^[A-Z0-9]{8}$", error="Enter an 8-character company number."),
    )
    share_contact = StrictBoolean(load_default=True)


SCHEMAS: dict[str, type[Schema]] = {
    "council": CouncilProfileSchema,
    "supplier": SupplierProfileSchema,
}


class ProfileSchema(Schema):
    """A council or supplier profile, told apart by `kind`."""

    class Meta:
        unknown = RAISE

    def load(self, data: Any, *, many: bool | None = None, partial: Any = None,
             unknown: str | None = None) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValidationError({"_schema": ["Send a JSON object."]})
        kind = data.get("kind")
        if kind not in SCHEMAS:
            raise ValidationError({"kind": ["Must be one of: council, supplier."]})
        return SCHEMAS[kind]().load(data)

    @validates_schema
    def _never(self, data: Any, **_: Any) -> None:  # pragma: no cover - load() dispatches
        raise ValidationError("dispatch failed")


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into {"dotted.path": [message, ...]}."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    if not isinstance(messages, dict):
        return {prefix or "_schema": [str(messages)]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key in ("value", "key") and prefix:
            path = prefix  # Dict fields nest errors under "key"/"value"; the key is the path.
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        for sub, msgs in flatten_errors(value, path).items():
            flat.setdefault(sub, []).extend(msgs)
    return flat
