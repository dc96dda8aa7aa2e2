"""The plain-English reasons given for each recommended partner, each checkable by a person.

``partner_reasons`` puts one partner's reasons together, in order, from its facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache

from partnermatch.shared.reference.taxonomy import SERVICE_AREAS

SELF_RATED = "self"
PUBLIC_DATA = "public_data"
FICTIONAL = "fictional"
RATING_SOURCES = (SELF_RATED, PUBLIC_DATA, FICTIONAL)
# A council profile built from public data: the council has not joined and claimed nothing.
NOT_JOINED = "Not on partnermatch yet: recommended from public data"


def rating_reason(source: str, rating: int, area: str) -> str:
    """Say how strong the partner is in an area, and who says so."""
    name = SERVICE_AREAS[area]
    if source == PUBLIC_DATA:
        return f"Rated {rating} out of 5 for {name} from public data"
    if source == FICTIONAL:
        return f"Demo rating {rating} out of 5 for {name} (fictional supplier)"
    return f"Rates itself {rating} out of 5 for {name}"


def capacity_reason(capacity: str) -> str | None:
    """Say what the partner said it can offer; nothing if it never said (public data)."""
    if capacity == "limited":
        return "Has limited capacity to support other councils"
    if capacity == "available":
        return "Has capacity to support other councils"
    return None


def reciprocity_reason(areas: Sequence[str]) -> str | None:
    """Say what the requester could help the partner with in return, if anything."""
    if not areas:
        return None
    names = [SERVICE_AREAS[a][0].lower() + SERVICE_AREAS[a][1:] for a in areas]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"You could help them with {listed}"


def region_reasons(regions_served: Sequence[str], region: str | None) -> list[str]:
    """Say where a supplier works, when that is where the requester is."""
    if not regions_served:
        return ["Works in all regions"]
    if region in regions_served:
        return [f"Works in {region}"]
    return []


def partner_reasons(area: str, kind: str, source: str, rating: int, capacity: str,
                    helpable: int = 0, evidence: Sequence[str] = (), alike: Sequence[str] = (),
                    served: tuple[str, ...] = (), region: str | None = None) -> tuple[str, ...]:
    """Return a partner's reasons: not joined, rating, evidence, likeness, capacity,
    reciprocity, then (suppliers) where it works.

    ``area`` is the need; ``kind`` council or supplier; ``source`` the rating's (one of
    ``RATING_SOURCES``); ``rating`` the partner's in the area; ``capacity`` what it said it can
    offer; ``helpable`` the bits (taxonomy order) of the areas the requester could help it with;
    ``evidence`` its own lines for the area; ``alike`` how the two councils are alike (context
    model); ``served`` the regions a supplier serves (none: all); ``region`` the requester's.
    (Plain arguments rather than a record: this runs for every partner of every match.)
    """
    reasons = [NOT_JOINED] if source == PUBLIC_DATA else []
    reasons.append(_rating_reason(source, rating, area))
    reasons += evidence
    reasons += alike
    if capacity_line := _capacity_reason(capacity):
        reasons.append(capacity_line)
    if helpable:
        reasons.append(_reciprocity_reason(helpable))
    if kind == "supplier":
        reasons += _region_reasons(served, region)
    return tuple(reasons)


_AREAS = tuple(SERVICE_AREAS)


@cache
def _rating_reason(source: str, rating: int, area: str) -> str:
    return rating_reason(source, rating, area)


@cache
def _capacity_reason(capacity: str) -> str | None:
    return capacity_reason(capacity)


@cache
def _reciprocity_reason(helpable: int) -> str | None:
    return reciprocity_reason([a for i, a in enumerate(_AREAS) if helpable >> i & 1])


@lru_cache(maxsize=4096)
def _region_reasons(served: tuple[str, ...], region: str | None) -> tuple[str, ...]:
    return tuple(region_reasons(served, region))
