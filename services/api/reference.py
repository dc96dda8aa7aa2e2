"""JSON API v1: public reference data: service areas, council search, similar councils."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_smorest import abort
from sqlalchemy import func, or_, select

from partnermatch.services.api.parsing import ApiBlueprint
from partnermatch.services.api.runtime import runtime
from partnermatch.services.api.schemas import (
    CouncilSearchQuerySchema,
    CouncilsSchema,
    ServiceAreasSchema,
    SimilarQuerySchema,
    SimilarSchema,
)
from partnermatch.shared.db.models import Council
from partnermatch.shared.matching.context import ContextModel
from partnermatch.shared.recommendations.context_store import context_folder, load_or_fit
from partnermatch.shared.reference.records import Place
from partnermatch.shared.reference.register import place_of
from partnermatch.shared.reference.taxonomy import (
    SERVICE_AREAS,
    delivers,
    nation_of,
    same_tier,
    types_delivering,
)

blp = ApiBlueprint(
    "reference", __name__, url_prefix="/api/v1",
    description="Public reference data: service areas and the council register.",
)


@blp.route("/service-areas", methods=["GET"])
@blp.response(200, ServiceAreasSchema)
def service_areas():
    """List the service areas and the council types that deliver each"""
    return {
        "items": [
            {"key": key, "name": name, "delivered_by": types_delivering(key)}
            for key, name in SERVICE_AREAS.items()
        ]
    }


@blp.route("/councils", methods=["GET"])
@blp.arguments(CouncilSearchQuerySchema, location="query")
@blp.response(200, CouncilsSchema)
def councils(query: dict[str, Any]):
    """Search the council register by name or GSS code"""
    text = query["q"].strip().lower()
    statement = select(Council).order_by(Council.name)
    if text:
        pattern = "%" + text.replace("\\", "").replace("%", "").replace("_", "") + "%"
        statement = statement.where(
            or_(func.lower(Council.name).like(pattern), func.lower(Council.gss_code) == text)
        )
    with runtime().sessions() as session:
        return {"items": [_council_item(c) for c in session.scalars(statement)]}


def _council_item(council: Council) -> dict[str, Any]:
    return {
        "gss_code": council.gss_code,
        "name": council.name,
        "council_type": council.council_type,
        "region": council.region,
    }


@blp.route("/councils/<string:gss_code>/similar", methods=["GET"])
@blp.arguments(SimilarQuerySchema, location="query")
@blp.response(200, SimilarSchema)
@blp.alt_response(404, schema="ErrorSchema", description="Not a current council")
def similar(query: dict[str, Any], gss_code: str):
    """List the councils most alike in circumstances (public data only)"""
    area = query["service_area"]
    if area is not None and area not in SERVICE_AREAS:
        abort(422, message="Unknown service area.",
              messages={"service_area": ["Not a service area key."]})
    model = context_model()
    gss_code = gss_code.upper()
    if gss_code not in model:
        abort(404, message="No current council has that GSS code.")
    eligible = _comparators(model.place(gss_code)) if area is None else (
        lambda place: delivers(place.council_type, area))
    neighbours = model.similar(gss_code, service_area=area, limit=query["limit"],
                               eligible=eligible)
    return {
        "items": [
            {"gss_code": p.gss_code, "name": p.name, "similarity": round(s, 4),
             "reasons": list(reasons)}
            for p, s, reasons in neighbours
        ]
    }


def _comparators(me: Place) -> Callable[[Place], bool]:
    """Without a service area, a council is compared with councils of its own tier and nation,
    as the sector's comparator lists are (counties and unitaries together, districts together;
    England's apart from Wales', whose councils work under other laws and inspectorates)."""
    nation = nation_of(me.region)

    def eligible(place: Place) -> bool:
        return (same_tier(me.council_type or "", place.council_type or "")
                and (nation is None or nation_of(place.region) == nation))

    return eligible


def context_model() -> ContextModel:
    """Return this process's context model: the one fitted at seed time, loaded once."""
    rt = runtime()
    model = rt.caches.get("context")
    if model is None:
        with rt.sessions() as session:
            places = [place_of(c) for c in session.scalars(select(Council))]
        folder = context_folder(rt.settings.INDEX_DIR, rt.settings.DATABASE_URL)
        model = rt.caches["context"] = load_or_fit(places, folder)
    return model
