"""Census 2021 indicators per council, aggregated from the local authority districts of 2021.

ONS publishes Census 2021 for the districts and unitaries of England and Wales as they stood on
census day. A council today may be one of them, a county made of several (Kent from its twelve
districts), or a unitary that replaced several since (North Yorkshire, Somerset, Cumberland,
Westmorland and Furness). Each district is followed through the register: to the current council
it is, or to the one current council that replaced it, and from a current district to its county.

Shares (``_perc``) are weighted by the people they describe: population for shares of people,
households for shares of households (the households of a district are recovered from the count
and share of one household measure). Counts (``_total``) are summed. Scotland and Northern Ireland
have their own censuses, not in this file: their councils have no census block here, and the
context model imputes it, and says so.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

CENSUS = "ons-census-2021/census_2021_local_authority_indicators.csv"

# The indicators the context model can use, as named in the file (percentages, 0-100).
PERSON_SHARES = (
    "age_0-14_perc", "age_15-24_perc", "age_25-34_perc", "age_35-44_perc", "age_45-54_perc",
    "age_55-64_perc", "age_65-74_perc", "age_75plus_perc",
    "ethnicity_asian_perc", "ethnicity_black_perc", "ethnicity_mixed_perc",
    "ethnicity_white_perc", "born_outside_UK_perc", "no_passport_perc", "armed_forces_perc",
    "marital_Single_perc", "marital_DivorcedDissolved_perc",
)
HOUSEHOLD_SHARES = (
    "household_1-person_perc", "household_2-person_perc", "household_3-person_perc",
    "household_4-person_perc", "households_multiplelanguages_perc",
)
COUNTS = ("population_total", "age_0-14_total", "age_75plus_total")
INDICATORS = (*PERSON_SHARES, *HOUSEHOLD_SHARES, *COUNTS)
# A household share is weighted by households, recovered as count / share of this measure.
_HOUSEHOLD_PROBE = ("households_multiplelanguages_total", "households_multiplelanguages_perc")
_MIN_PROBE_PERC = 1.0  # below this the rounded share is too coarse to recover households from
_PEOPLE_PER_HOUSEHOLD = 2.36  # England and Wales, Census 2021: the fallback


def _number(text: str | None) -> float | None:
    try:
        value = float(text or "")
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _households(row: Mapping[str, str], people: float) -> float:
    """Return a district's households: from a household measure's count and share if it can."""
    count, perc = (_number(row.get(key)) for key in _HOUSEHOLD_PROBE)
    if count and perc and perc >= _MIN_PROBE_PERC:
        return count * 100.0 / perc
    return people / _PEOPLE_PER_HOUSEHOLD


def district_councils(register: Iterable[Mapping[str, str]],
                      is_current: Mapping[str, bool]) -> dict[str, tuple[str, ...]]:
    """Map each district GSS code (current or former) to the current councils it belongs to.

    ``register`` rows are mySociety's; ``is_current`` says which council codes (three letters)
    are current councils. A district belongs to itself if current, else to its one current
    successor; and to its county, if that is a current council.
    """
    rows = list(register)
    by_code = {row["local-authority-code"]: row for row in rows}
    found: dict[str, tuple[str, ...]] = {}
    for row in rows:
        owners = _owners(row, by_code, is_current)
        if owners:
            gss_codes = [row["gss-code"], *_split(row["former-gss-codes"])]
            for gss in gss_codes:
                found.setdefault(gss, owners)
    return found


def _split(text: str) -> list[str]:
    return [code.strip() for code in (text or "").split(",") if code.strip()]


def _owners(row: Mapping[str, str], by_code: Mapping[str, Mapping[str, str]],
            is_current: Mapping[str, bool]) -> tuple[str, ...]:
    """Return the current councils a register row's people live in today."""
    code = row["local-authority-code"]
    if not is_current.get(code):
        successors = _split(row["replaced-by"])
        if len(successors) != 1 or not is_current.get(successors[0]):
            return ()
        code = successors[0]
        row = by_code[code]
    county = row.get("county-la", "")
    return (code, county) if county and is_current.get(county) else (code,)


def aggregate(census_rows: Iterable[Mapping[str, str]],
              owners: Mapping[str, tuple[str, ...]]) -> dict[str, dict[str, float]]:
    """Return each council's indicators from the districts that make it up.

    Shares are the mean of the districts' shares weighted by their people or households; counts
    are summed. An indicator no district reports is left out.
    """
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for row in census_rows:
        people = _number(row.get("population_total"))
        if not people:
            continue
        weights = {"people": people, "households": _households(row, people)}
        for council in owners.get(row.get("code", ""), ()):
            _add(sums[council], row, weights)
    return {council: {key: (total if key in COUNTS else total / weight)
                      for key, (total, weight) in values.items() if weight}
            for council, values in sums.items()}


def _add(sums: dict[str, list[float]], row: Mapping[str, str],
         weights: Mapping[str, float]) -> None:
    """Add one district's figures to a council's running sums: (weighted total, weight)."""
    for key in INDICATORS:
        value = _number(row.get(key))
        if value is None:
            continue
        weight = 1.0 if key in COUNTS else weights[
            "households" if key in HOUSEHOLD_SHARES else "people"]
        sums[key][0] += weight * value
        sums[key][1] += weight
