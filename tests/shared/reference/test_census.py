"""Census 2021 indicators aggregated from 2021 districts to today's councils."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from partnermatch.config.settings import SHIPPED_REFERENCE_DIR
from partnermatch.shared.reference.census import (
    CENSUS,
    COUNT_TABLES,
    CountTable,
    aggregate,
    aggregate_counts,
    district_councils,
)
from partnermatch.shared.reference.readers import REGISTER, read_councils

DATA_DIR = Path(os.environ.get("REFERENCE_DATA_DIR") or SHIPPED_REFERENCE_DIR)


def register_row(code, gss, kind="NMD", county="", replaced_by="", former=""):
    return {"local-authority-code": code, "gss-code": gss, "local-authority-type": kind,
            "county-la": county, "replaced-by": replaced_by, "former-gss-codes": former}


def census_row(gss, people, children, one_person, multilingual_households_total, multilingual):
    return {"code": gss, "population_total": str(people), "age_0-14_perc": str(children),
            "household_1-person_perc": str(one_person),
            "households_multiplelanguages_total": str(multilingual_households_total),
            "households_multiplelanguages_perc": str(multilingual)}


def test_a_county_is_its_districts_weighted_by_people_and_households():
    register = [register_row("CTY", "E10000001", "CTY"),
                register_row("BIG", "E07000001", county="CTY"),
                register_row("SML", "E07000002", county="CTY")]
    owners = district_councils(register, {"CTY": True, "BIG": True, "SML": True})
    assert owners["E07000001"] == ("BIG", "CTY")
    # BIG: 300,000 people in 100,000 households (5,000 households are 5%); SML: 100,000 in 50,000
    rows = [census_row("E07000001", 300_000, 20.0, 40.0, 5_000, 5.0),
            census_row("E07000002", 100_000, 10.0, 20.0, 1_000, 2.0)]
    found = aggregate(rows, owners)
    assert found["CTY"]["population_total"] == 400_000
    assert found["CTY"]["age_0-14_perc"] == pytest.approx((300_000 * 20 + 100_000 * 10) / 400_000)
    assert found["CTY"]["household_1-person_perc"] == pytest.approx(
        (100_000 * 40 + 50_000 * 20) / 150_000)
    assert found["BIG"]["age_0-14_perc"] == 20.0


def test_districts_replaced_by_one_new_unitary_are_counted_in_it_and_a_split_by_none():
    register = [register_row("OLD1", "E07000010", replaced_by="NEW"),
                register_row("OLD2", "E07000011", replaced_by="NEW"),
                register_row("NEW", "E06000099", "UA", former="E06000090"),
                register_row("GONE", "E07000012", replaced_by="NEW,OTHER")]
    owners = district_councils(register, {"NEW": True, "OTHER": True})
    assert owners["E07000010"] == owners["E07000011"] == ("NEW",)
    assert owners["E06000090"] == ("NEW",)
    assert "E07000012" not in owners
    found = aggregate([census_row("E07000010", 1_000, 30.0, 10.0, 50, 10.0),
                       census_row("E07000011", 3_000, 10.0, 10.0, 150, 10.0),
                       census_row("E07000012", 9_999, 90.0, 90.0, 50, 10.0)], owners)
    assert found == {"NEW": pytest.approx({
        "population_total": 4_000, "age_0-14_perc": 15.0, "household_1-person_perc": 10.0,
        "households_multiplelanguages_perc": 10.0})}


TENURE = CountTable("tenure.csv", "All households", {
    "social_perc": ("Social rented",), "private_perc": ("Private rented", "Rent free")})


def tenure_row(gss, households, social, private, free="0"):
    return {"geography code": gss, "All households": str(households), "Social rented": str(social),
            "Private rented": str(private), "Rent free": str(free)}


def test_a_count_table_sums_counts_and_totals_over_a_councils_districts():
    register = [register_row("CTY", "E10000001", "CTY"),
                register_row("BIG", "E07000001", county="CTY"),
                register_row("SML", "E07000002", county="CTY")]
    owners = district_councils(register, {"CTY": True, "BIG": True, "SML": True})
    found = aggregate_counts(TENURE, [tenure_row("E07000001", 90_000, 9_000, 18_000, 2_000),
                                      tenure_row("E07000002", 10_000, 3_000, 1_000)], owners)
    assert found["CTY"] == pytest.approx({"social_perc": 12.0, "private_perc": 21.0})
    assert found["SML"] == pytest.approx({"social_perc": 30.0, "private_perc": 10.0})


def test_a_count_table_leaves_out_a_district_without_a_total_or_a_count():
    owners = {"E07000001": ("A",), "E07000002": ("A",)}
    found = aggregate_counts(TENURE, [tenure_row("E07000001", "", 50, 50),
                                      tenure_row("E07000002", 1_000, "x", 100)], owners)
    assert found == {"A": pytest.approx({"private_perc": 10.0})}


@pytest.fixture(scope="module")
def places():
    return {r.place.name: r.place for r in read_councils(DATA_DIR)}


def _rows(name):
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_english_and_welsh_council_has_a_census_block_and_no_scottish_one(places):
    register = {r["gss-code"]: r for r in _rows(REGISTER)}
    for place in places.values():
        nation = register[place.gss_code]["nation"]
        assert bool(place.census) == (nation in ("England", "Wales")), place.name


def test_kent_counts_the_people_of_its_twelve_districts(places):
    census = {r["code"]: r for r in _rows(CENSUS)}
    districts = [r["gss-code"] for r in _rows(REGISTER)
                 if r["county-la"] == "KEN" and r["current-authority"] == "True"]
    assert len(districts) == 12
    assert places["Kent"].census["population_total"] == sum(
        float(census[gss]["population_total"]) for gss in districts)
    shares = [float(census[gss]["age_75plus_perc"]) for gss in districts]
    assert min(shares) < places["Kent"].census["age_75plus_perc"] < max(shares)


def test_north_yorkshire_is_made_of_the_seven_districts_it_replaced(places):
    census = {r["code"]: r for r in _rows(CENSUS)}
    former = [r["gss-code"] for r in _rows(REGISTER) if r["replaced-by"] == "NYE"
              and r["local-authority-type"] == "NMD"]
    assert len(former) == 7
    assert places["North Yorkshire"].census["population_total"] == sum(
        float(census[gss]["population_total"]) for gss in former)


def test_places_carry_the_shares_of_people_in_the_most_and_least_deprived_areas(places):
    for place in places.values():
        assert 0.0 <= place.imd_high_share <= 1.0 and 0.0 <= place.imd_low_share <= 1.0
    assert places["Knowsley"].imd_high_share > places["Wokingham"].imd_high_share
    assert places["Wokingham"].imd_low_share > places["Knowsley"].imd_low_share


def test_tenure_and_class_come_from_the_shipped_ons_tables(places):
    names = [name for table in COUNT_TABLES for name in table.shares]
    for place in places.values():
        if place.census:
            assert all(0.0 <= place.census[name] <= 100.0 for name in names), place.name
    tenure = ("tenure_owned_perc", "tenure_social_rented_perc", "tenure_private_rented_perc")
    assert sum(places["Kent"].census[name] for name in tenure) == pytest.approx(100.0)
    assert places["Hackney"].census["tenure_social_rented_perc"] > 35.0
    assert places["Wokingham"].census["nssec_higher_perc"] > places["Knowsley"].census[
        "nssec_higher_perc"]
    assert places["Knowsley"].census["nssec_routine_perc"] > places["Wokingham"].census[
        "nssec_routine_perc"]


def test_the_oldest_and_car_availability_come_from_the_shipped_ons_tables(places):
    ages = {r["geography code"]: r for r in _rows("ons-census-2021/census2021-ts007a-ltla.csv")}
    hartlepool = ages[places["Hartlepool"].gss_code]
    assert places["Hartlepool"].census["age_85plus_perc"] == pytest.approx(
        100.0 * float(hartlepool["Age: Aged 85 years and over"]) / float(hartlepool["Age: Total"]))
    assert places["Eastbourne"].census["age_85plus_perc"] > places["Tower Hamlets"].census[
        "age_85plus_perc"]
    assert places["Tower Hamlets"].census["cars_none_perc"] > 50.0
    assert places["Rutland"].census["cars_two_plus_perc"] > places["Rutland"].census[
        "cars_none_perc"]
