"""Where to reach a council that has not joined partnermatch: its website, from public data.

Every UK council's homepage comes from GOV.UK's local-links-manager in the reference data (always
linked over https). Where a council is missing there, the Ofsted provider lookup's domain is used,
believed only when it is a ``.gov.uk`` domain (some name a children's services trust or a
company); a council with neither gets GOV.UK's "Find your local council" page.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import CouncilCode, Profile
from partnermatch.shared.reference.readers import HOMEPAGES, OFSTED_LOOKUP
from partnermatch.shared.reference.records import NeedMatches

FIND_YOUR_COUNCIL = "https://www.gov.uk/find-local-council"
_COUNCIL_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+gov\.uk")


@dataclass(frozen=True)
class Website:
    """A link to where a council can be reached: its own site, or GOV.UK's finder."""

    url: str
    text: str
    own: bool  # False: GOV.UK's "Find your local council"


FINDER = Website(FIND_YOUR_COUNCIL, "Find your local council on GOV.UK", own=False)


def council_websites(session: Session, data_dir: str | Path | None,
                     gss_codes: Iterable[str | None]) -> dict[str, Website]:
    """Return each council's website, by its register GSS code (GOV.UK's finder if unknown)."""
    wanted = {code for code in gss_codes if code}
    known = {code: [code] for code in wanted}
    for code, gss in session.execute(select(CouncilCode.code, CouncilCode.gss_code)
                                     .where(CouncilCode.gss_code.in_(wanted))):
        known[gss].append(code)  # former and newer codes: the lookup uses Barnsley's newer one
    return websites_of(data_dir, known)


def websites_of(data_dir: str | Path | None, known: dict[str, list[str]]) -> dict[str, Website]:
    """Return each council's website from its register GSS code and every code it is known by
    (CouncilCode, the register code first), as council_websites does having read them."""
    domains = read_domains(str(data_dir)) if data_dir else {}
    homepages = read_homepages(str(data_dir)) if data_dir else {}
    found = {}
    for gss, codes in known.items():
        homepage = next((homepages[c] for c in codes if c in homepages), None)
        domain = next((domains[c] for c in codes if c in domains), None)
        found[gss] = homepage or (
            Website(f"https://www.{domain}", f"www.{domain}", own=True) if domain else FINDER)
    return found


@lru_cache(maxsize=4)
def read_homepages(data_dir: str) -> dict[str, Website]:
    """Return each council's homepage from GOV.UK's list, by GSS code (read once)."""
    path = Path(data_dir) / HOMEPAGES
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    homepages = {}
    for row in rows:
        address = urlsplit((row.get("homepage_url") or "").strip())
        if address.hostname and row.get("gss"):
            url = f"https://{address.hostname}{address.path.rstrip('/')}"
            homepages[row["gss"].strip().upper()] = Website(url, address.hostname, own=True)
    return homepages


@lru_cache(maxsize=4)
def read_domains(data_dir: str) -> dict[str, str]:
    """Return the council web domains of the reference data, by GSS code (read once)."""
    path = Path(data_dir) / OFSTED_LOOKUP
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    domains = {}
    for row in rows:
        domain = (row.get("domain") or "").strip().lower().removeprefix("www.")
        if _COUNCIL_DOMAIN.fullmatch(domain) and row.get("la_code_new"):
            domains[row["la_code_new"].strip().upper()] = domain
    return domains


def partner_websites(session: Session, data_dir: str | Path | None,
                     needs: Iterable[NeedMatches]) -> dict[str, Website]:
    """Return the website of each recommended council that has not joined (from public data)."""
    ids = {p.profile_id for need in needs for p in need.partners if p.kind == "council"}
    public = session.execute(
        select(Profile.id, Profile.gss_code)
        .where(Profile.id.in_(ids), Profile.demo.is_(True), Profile.kind == "council")).all()
    sites = council_websites(session, data_dir, [gss for _, gss in public])
    return {profile_id: sites.get(gss, FINDER) for profile_id, gss in public}
