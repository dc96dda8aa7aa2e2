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

Two ONS topic summaries add what that file lacks and the sector's comparator methods use (NHS
England's adult social care peer groups: tenure and socio-economic class): TS054 (tenure of
households) and TS062 (NS-SeC of residents aged 16 and over), as counts per 2021 district. Their
shares are a council's summed counts over its summed table total, so they need no weights. Two more
are read the same way, TS007A (the shares aged 85 and over and 0-4) and TS045 (households with no
car, with two or more); the context model does not weigh them: ``python -m bench.candidates``
found that they did not help neighbours predict outcomes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


_TS054 = "Tenure of household: "
_TS062 = "National Statistics Socio-economic Classification (NS-SEC): "
_TS007A = "Age: "
_TS045 = "Number of cars or vans: "


@dataclass(frozen=True)
class CountTable:
    """One ONS topic summary: its file, its total column and each share's count columns."""

    path: str
    total: str
    shares: dict[str, tuple[str, ...]]
    code: str = "geography code"


COUNT_TABLES = (
    CountTable("ons-census-2021/census2021-ts054-ltla.csv", _TS054 + "Total: All households", {
        "tenure_owned_perc": (_TS054 + "Owned", _TS054 + "Shared ownership"),
        "tenure_social_rented_perc": (_TS054 + "Social rented",),
        "tenure_private_rented_perc": (_TS054 + "Private rented", _TS054 + "Lives rent free"),
    }),
    CountTable("ons-census-2021/census2021-ts062-ltla.csv",
               _TS062 + "Total: All usual residents aged 16 years and over", {
        "nssec_higher_perc": (_TS062 + "L1, L2 and L3 Higher managerial, administrative and "
                              "professional occupations",),
        "nssec_routine_perc": (_TS062 + "L12 Semi-routine occupations",
                               _TS062 + "L13 Routine occupations"),
        "nssec_never_worked_perc": (_TS062 + "L14.1 and L14.2 Never worked and long-term "
                                    "unemployed",),
        "nssec_students_perc": (_TS062 + "L15 Full-time students",),
    }),
    CountTable("ons-census-2021/census2021-ts007a-ltla.csv", _TS007A + "Total", {
        "age_0-4_perc": (_TS007A + "Aged 4 years and under",),
        "age_85plus_perc": (_TS007A + "Aged 85 years and over",),
    }),
    CountTable("ons-census-2021/census2021-ts045-ltla.csv",
               _TS045 + "Total: All households", {
        "cars_none_perc": (_TS045 + "No cars or vans in household",),
        "cars_two_plus_perc": (_TS045 + "2 cars or vans in household",
                               _TS045 + "3 or more cars or vans in household"),
    }),
)
COUNT_SHARES = tuple(name for table in COUNT_TABLES for name in table.shares)


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


def aggregate_counts(table: CountTable, rows: Iterable[Mapping[str, str]],
                     owners: Mapping[str, tuple[str, ...]]) -> dict[str, dict[str, float]]:
    """Return each council's shares (0-100) from one count table: summed counts over summed totals.

    A district with no total, or a count that is not a number, is left out of that share.
    """
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for row in rows:
        total = _number(row.get(table.total))
        if not total:
            continue
        for name, columns in table.shares.items():
            counts = [_number(row.get(column)) for column in columns]
            if None in counts:
                continue
            for council in owners.get(row.get(table.code, ""), ()):
                sums[council][name][0] += sum(counts)
                sums[council][name][1] += total
    return {council: {name: 100.0 * count / total for name, (count, total) in shares.items()}
            for council, shares in sums.items()}
