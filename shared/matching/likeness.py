"""Say in plain words, each checkable against public data, how two councils are alike.

Each reason belongs to one block of the context model
(``partnermatch.shared.matching.context.BLOCKS``); a service area only gives the reasons of the
blocks it weighs, so the words follow what made two councils close. Where a block had to be imputed
for either council (no Census 2021 for Scotland and Northern Ireland, no child poverty figures
outside England), the reasons say so rather than staying silent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

from partnermatch.shared.reference.records import Place

FIFTHS = {
    1: "the most deprived fifth", 2: "the second most deprived fifth", 3: "the middle fifth",
    4: "the second least deprived fifth", 5: "the least deprived fifth",
}
TYPE_NAMES = {
    "CTY": "a county council", "NMD": "a district council", "UA": "a unitary authority",
    "MD": "a metropolitan borough", "LBO": "a London borough", "CC": "a city corporation",
    "SCO": "a Scottish council", "WPA": "a Welsh council",
    "NID": "a Northern Ireland district council",
}
NEIGHBOUR_MILES = 30
SIMILAR_POPULATION_RATIO = 1.25
SIMILAR_SHARE_POINTS = 5.0  # percentage points: "similar" shares of deprived areas
SIMILAR_CHILD_POVERTY_POINTS = 3.0
CENSUS_BLOCKS = frozenset({"age", "ethnicity", "households", "tenure", "occupation"})
# Census 2021 make-up worth naming when both councils are in the upper quartile over the councils
# of England and Wales.
MAKE_UP: tuple[tuple[str, str, Callable[[dict[str, float]], float], float, str], ...] = (
    ("age", "Similar population make-up", lambda c: c["age_0-14_perc"], 18.2,
     "both have a large share of children and young families ({:.0f}% and {:.0f}% under 15)"),
    ("age", "Similar population make-up",
     lambda c: c["age_65-74_perc"] + c["age_75plus_perc"], 23.2,
     "both have an older population ({:.0f}% and {:.0f}% aged 65 or over)"),
    ("age", "Similar population make-up", lambda c: c["age_25-34_perc"], 13.7,
     "both have many young adults ({:.0f}% and {:.0f}% aged 25 to 34)"),
    ("ethnicity", "Similar population make-up", lambda c: 100 - c["ethnicity_white_perc"], 17.8,
     "both ethnically diverse ({:.0f}% and {:.0f}% from ethnic minorities)"),
    ("ethnicity", "Similar population make-up", lambda c: c["born_outside_UK_perc"], 17.7,
     "both have many residents born outside the UK ({:.0f}% and {:.0f}%)"),
    ("households", "Similar households", lambda c: c["household_1-person_perc"], 31.7,
     "both have many people living alone ({:.0f}% and {:.0f}% of households)"),
    ("households", "Similar households", lambda c: c["household_4-person_perc"], 21.4,
     "both have many large households ({:.0f}% and {:.0f}% with four or more people)"),
    ("tenure", "Similar housing", lambda c: c["tenure_social_rented_perc"], 18.0,
     "both have many households in social housing ({:.0f}% and {:.0f}%)"),
    ("tenure", "Similar housing", lambda c: c["tenure_private_rented_perc"], 21.1,
     "both have many households renting privately ({:.0f}% and {:.0f}%)"),
    ("tenure", "Similar housing", lambda c: c["tenure_owned_perc"], 71.3,
     "both mostly home owners ({:.0f}% and {:.0f}% of households)"),
    ("occupation", "Similar population make-up", lambda c: c["nssec_higher_perc"], 15.9,
     "both have many adults in higher managerial and professional work ({:.0f}% and {:.0f}%)"),
    ("occupation", "Similar population make-up", lambda c: c["nssec_routine_perc"], 27.1,
     "both have many adults in routine and semi-routine work ({:.0f}% and {:.0f}%)"),
    ("occupation", "Similar population make-up", lambda c: c["nssec_never_worked_perc"], 9.4,
     "both have many adults who have never worked or are long-term unemployed "
     "({:.0f}% and {:.0f}%)"),
    ("occupation", "Similar population make-up", lambda c: c["nssec_students_perc"], 7.7,
     "both have many full-time students ({:.0f}% and {:.0f}% of adults)"),
)


def _rounded_people(count: float) -> str:
    step = 10_000 if count >= 100_000 else 1_000 if count >= 10_000 else 100
    return f"{int(round(count / step) * step):,}"


def haversine_miles(a: Place, b: Place) -> float | None:
    """Return the great-circle distance between two places in miles, if both have coordinates."""
    if None in (a.lat, a.lon, b.lat, b.lon):
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2) ** 2
    return 2 * 3958.8 * math.asin(math.sqrt(h))


def _deprivation_reasons(a: Place, b: Place) -> list[str]:
    found = []
    if a.imd_quintile is not None and a.imd_quintile == b.imd_quintile:
        found.append(
            f"Similar deprivation: both in {FIFTHS.get(a.imd_quintile, 'the same fifth')}")
    if a.imd_high_share is not None and b.imd_high_share is not None:
        high = (100 * a.imd_high_share, 100 * b.imd_high_share)
        if abs(high[0] - high[1]) <= SIMILAR_SHARE_POINTS and max(high) >= 1:
            found.append(f"Similar deprivation: {high[0]:.0f}% and {high[1]:.0f}% of people live "
                         "in the most deprived areas")
    return found


def _make_up_reasons(a: Place, b: Place, blocks: Collection[str]) -> list[str]:
    found = []
    for block, title, measure, threshold, words in MAKE_UP:
        if block not in blocks or not a.census or not b.census:
            continue
        try:
            values = (measure(a.census), measure(b.census))
        except KeyError:
            continue
        if min(values) >= threshold:
            found.append(f"{title}: " + words.format(*values))
    return found


def _child_poverty_reason(a: Place, b: Place) -> str | None:
    shares = (a.need_indicators.get("ChildPov"), b.need_indicators.get("ChildPov"))
    if None in shares or abs(shares[0] - shares[1]) > SIMILAR_CHILD_POVERTY_POINTS:
        return None
    return (f"Similar child poverty: {shares[0]:.0f}% and {shares[1]:.0f}% of children in "
            "low-income families")


def _imputed_reasons(a: Place, b: Place, blocks: Collection[str]) -> list[str]:
    """Say which blocks were assumed typical because a council has no figures for them."""
    found = []
    if CENSUS_BLOCKS & set(blocks):
        for place in (a, b):
            if not place.census:
                found.append(f"Population make-up not compared: no Census 2021 figures for "
                             f"{place.name} (England and Wales only), so it was taken as typical")
    if "child_poverty" in blocks:
        for place in (a, b):
            if "ChildPov" not in place.need_indicators:
                found.append(f"Child poverty not compared: no figures for {place.name}, so it "
                             "was taken as typical")
    return found


def _type_reason(a: Place, b: Place) -> str | None:
    if not a.council_type or a.council_type != b.council_type:
        return None
    return f"Also {TYPE_NAMES.get(a.council_type, 'the same type of council')}"


def _region_reason(a: Place, b: Place) -> str | None:
    return f"Same region: {a.region}" if a.region and a.region == b.region else None


def _population_reason(a: Place, b: Place) -> str | None:
    if not a.population or not b.population:
        return None
    low, high = sorted((a.population, b.population))
    if high > SIMILAR_POPULATION_RATIO * low:
        return None
    return (f"Similar population: {_rounded_people(a.population)} and "
            f"{_rounded_people(b.population)}")


def _rurality_reason(a: Place, b: Place) -> str | None:
    label = (a.rurality or "").strip().lower()
    return f"Both {label}" if label and label == (b.rurality or "").strip().lower() else None


def _neighbour_reason(a: Place, b: Place) -> str | None:
    miles = haversine_miles(a, b)
    if miles is None or miles >= NEIGHBOUR_MILES:
        return None
    if miles < 1:
        return "Neighbours: under a mile apart"
    return f"Neighbours: {round(miles)} miles apart"


_SIMPLE = (("council_type", _type_reason), ("region", _region_reason),
           ("population", _population_reason), ("rurality", _rurality_reason),
           ("distance", _neighbour_reason), ("child_poverty", _child_poverty_reason))
ALL_BLOCKS = frozenset({"deprivation", *CENSUS_BLOCKS, *(block for block, _ in _SIMPLE)})


def context_reasons(a: Place, b: Place,
                    blocks: Collection[str] | None = None) -> tuple[str, ...]:
    """Return how two places are alike, for the blocks a service area weighs (all if None)."""
    blocks = ALL_BLOCKS if blocks is None else frozenset(blocks)
    found: list[str | None] = []
    if "deprivation" in blocks:
        found += _deprivation_reasons(a, b)
    found += _make_up_reasons(a, b, blocks)
    found += [reason(a, b) for block, reason in _SIMPLE if block in blocks]
    found += _imputed_reasons(a, b, blocks)
    return tuple(r for r in found if r)
