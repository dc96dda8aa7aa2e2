"""The council register in the database: loaded idempotently from the public reference data."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import URL, Row, ScalarSelect, delete, func, select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import Council, CouncilCode, utcnow
from partnermatch.shared.progress import progress
from partnermatch.shared.reference.addresses import recheck_addresses
from partnermatch.shared.reference.readers import read_councils
from partnermatch.shared.reference.records import CouncilRecord, OfstedJudgement, Place


def load_register(session: Session, data_dir: str | Path) -> int:
    """Insert or refresh every council and its codes; return how many councils are current.

    Unverified council addresses are checked again against the councils' web domains as loaded.
    """
    records = read_councils(data_dir)
    for record in progress(records, "councils", len(records), unit="council"):
        session.merge(_council_row(record))
    session.flush()
    session.execute(delete(CouncilCode))
    for code, gss in _codes(records).items():
        session.add(CouncilCode(code=code, gss_code=gss))
    session.flush()
    recheck_addresses(session)
    return len(records)


def register_size(session: Session) -> int:
    """Return how many councils the register holds."""
    return session.scalar(select(func.count()).select_from(Council)) or 0


def register_stamp() -> ScalarSelect:
    """When the register was last loaded: a subquery to read with other things in one statement.

    Every load stamps every council (`refreshed_at`), codes included in the same transaction, so
    facts cached at one stamp hold until the stamp changes.
    """
    return select(func.max(Council.refreshed_at)).scalar_subquery()


# Per database, the stamp the facts were read at and the facts by every code.
_FACTS: dict[URL, tuple[datetime | None, dict[str, Row]]] = {}


UNREAD = object()  # council_facts reads the register's stamp itself


def council_facts(session: Session, code: str, stamp: datetime | None | object = UNREAD
                  ) -> Row | None:
    """What validation and the address check need of the council a code names (current, former
    or newer code): gss_code, name, council_type and web_domains; None for no current council.

    The register is reference data, changed only by loading it again: the facts of all councils
    are kept in this process and read again when the register's stamp (`register_stamp`, read
    here unless the caller read it with something else) has changed.
    """
    if stamp is UNREAD:
        stamp = session.scalar(select(register_stamp()))
    database = session.get_bind().url
    cached = _FACTS.get(database)
    if cached is None or cached[0] != stamp:
        rows = session.execute(
            select(CouncilCode.code, Council.gss_code, Council.name, Council.council_type,
                   Council.web_domains)
            .join(Council, Council.gss_code == CouncilCode.gss_code)
        ).all()
        cached = (stamp, {row.code: row for row in rows})
        _FACTS[database] = cached
    return cached[1].get(code.upper())


def _council_row(record: CouncilRecord) -> Council:
    place = record.place
    return Council(
        gss_code=place.gss_code,
        code=record.code,
        name=place.name,
        official_name=record.official_name,
        council_type=place.council_type,
        nation=record.nation,
        region=place.region,
        population=int(place.population) if place.population else None,
        dfe_la_number=record.dfe_la_number,
        place=dataclasses.asdict(place),
        ofsted=[dataclasses.asdict(j) for j in record.ofsted_history],
        outcomes=dict(record.outcome_indicators),
        web_domains=list(record.web_domains),
        refreshed_at=utcnow(),
    )


def _codes(records: Sequence[CouncilRecord]) -> dict[str, str]:
    codes: dict[str, str] = {}
    for record in records:
        for code in (*record.former_gss_codes, *record.alias_gss_codes):
            codes.setdefault(code.upper(), record.place.gss_code)
    for record in records:  # a current code always names its own council
        codes[record.place.gss_code] = record.place.gss_code
    return codes


def place_of(council: Council) -> Place:
    """Return the Place record stored for a council."""
    return Place(**council.place)


def ofsted_history(council: Council) -> list[OfstedJudgement]:
    """Return a council's Ofsted inspections, newest first."""
    return [OfstedJudgement(**j) for j in council.ofsted]
