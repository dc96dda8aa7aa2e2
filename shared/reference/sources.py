"""Refresh the shipped reference data from its public repositories: download, derive, diff, swap.

``sources.json`` beside the data pins every original to a repository, path, commit and SHA-256, and
says which shipped file is a byte-for-byte copy and which is derived (and by which function here).
A refresh downloads the originals (at the pinned commits, or newer ones when asked), checks them,
re-derives, compares each file with the current copy (columns must not change; rows added, removed
and changed are reported by the file's key) and only then replaces the copy as a whole. Any failure
leaves the current copy untouched.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "sources.json"
RAW_BASE_URL = "https://raw.githubusercontent.com"
API_BASE_URL = "https://api.github.com"
TIMEOUT_SECONDS = 60


class RefreshError(Exception):
    """A refresh that cannot go ahead; the current copy is left as it was."""


@dataclass(frozen=True)
class FileChange:
    """How one shipped file differs between the current copy and the refreshed one."""

    name: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    new: bool = False

    @property
    def any(self) -> bool:
        return self.new or bool(self.added or self.removed or self.changed)

    def describe(self) -> str:
        if self.new:
            return f"{self.name}: new file"
        if not self.any:
            return f"{self.name}: unchanged"
        return (f"{self.name}: {self.added} rows added, {self.removed} removed, "
                f"{self.changed} changed")


@dataclass
class Plan:
    """A refreshed copy, built in memory, with what changed against the current one."""

    manifest: dict
    files: dict[str, bytes]
    changes: list[FileChange] = field(default_factory=list)
    commits: dict[str, tuple[str, str]] = field(default_factory=dict)  # repo -> (old, new)

    @property
    def any(self) -> bool:
        """Whether a file or a pinned commit differs from the current copy."""
        moved = any(old != new for old, new in self.commits.values())
        return moved or any(change.any for change in self.changes)


@dataclass(frozen=True)
class Upstream:
    """Where the originals come from: GitHub's raw files and API, or a mirror of them in tests."""

    raw_base_url: str = RAW_BASE_URL
    api_base_url: str = API_BASE_URL

    def fetch(self, url: str) -> bytes:
        if not url.startswith(("https://", "http://")):
            raise RefreshError(f"download failed: {url} is not an http(s) address")
        headers = {"User-Agent": "partnermatch-data-refresh"}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return response.read()
        except urllib.error.HTTPError as error:
            raise RefreshError(f"download failed: {url} answered {error.code}") from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise RefreshError(f"download failed: {url}: {error}") from error

    def original(self, repo: str, commit: str, path: str) -> bytes:
        quoted = urllib.request.quote(path)
        return self.fetch(f"{self.raw_base_url}/{repo}/{commit}/{quoted}")

    def resolve(self, repo: str, ref: str) -> str:
        """Return the full commit that a branch, tag or commit of a repository names now."""
        body = self.fetch(f"{self.api_base_url}/repos/{repo}/commits/{urllib.request.quote(ref)}")
        try:
            sha = json.loads(body)["sha"]
        except (ValueError, KeyError, TypeError) as error:
            raise RefreshError(f"could not resolve {repo}@{ref}: unexpected answer") from error
        if not re.fullmatch(r"[0-9a-f]{40}", str(sha)):
            raise RefreshError(f"could not resolve {repo}@{ref}: {sha!r} is not a commit")
        return sha


def read_manifest(data_dir: Path) -> dict:
    path = data_dir / MANIFEST
    if not path.is_file():
        raise RefreshError(f"{path} not found: the reference data folder has no {MANIFEST}")
    return json.loads(path.read_text(encoding="utf-8"))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_refresh(data_dir: Path, upstream: Upstream, updates: Mapping[str, str]) -> Plan:
    """Download, check and derive every shipped file, and compare it with the current copy.

    ``updates`` maps a repository to the branch, tag or commit to take instead of its pinned commit.
    """
    manifest = json.loads(json.dumps(read_manifest(data_dir)))
    commits = _new_commits(manifest, upstream, updates)
    originals = _download(manifest, upstream, commits)
    files = {name: _build(name, spec, originals) for name, spec in manifest["files"].items()}
    changes = [_compare(data_dir, name, files[name], spec) for name, spec in
               manifest["files"].items()]
    for repo, (_, new) in commits.items():
        manifest["repositories"][repo]["commit"] = new
    return Plan(manifest=manifest, files=files, changes=changes, commits=commits)


def _new_commits(manifest: dict, upstream: Upstream,
                 updates: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    repositories = manifest["repositories"]
    unknown = sorted(set(updates) - set(repositories))
    if unknown:
        raise RefreshError(f"not a source of the reference data: {', '.join(unknown)}")
    commits = {}
    for repo, info in repositories.items():
        new = upstream.resolve(repo, updates[repo]) if repo in updates else info["commit"]
        commits[repo] = (info["commit"], new)
    return commits


def _download(manifest: dict, upstream: Upstream,
              commits: Mapping[str, tuple[str, str]]) -> dict[str, bytes]:
    """Download every original; one pinned at an unchanged commit must match its checksum."""
    originals = {}
    for name, spec in manifest["originals"].items():
        old, new = commits[spec["repo"]]
        data = upstream.original(spec["repo"], new, spec["path"])
        if new == old and sha256(data) != spec["sha256"]:
            raise RefreshError(
                f"checksum mismatch for {spec['repo']}/{spec['path']} at {new[:7]}: expected "
                f"{spec['sha256'][:12]}…, got {sha256(data)[:12]}…"
            )
        spec["sha256"] = sha256(data)
        originals[name] = data
    return originals


def _build(name: str, spec: dict, originals: Mapping[str, bytes]) -> bytes:
    inputs = [originals[source] for source in spec["from"]]
    derive = spec.get("derive")
    if derive is None:
        return inputs[0]
    try:
        return DERIVATIONS[derive](*inputs)
    except RefreshError:
        raise
    except Exception as error:  # a malformed upstream file is a refresh error, not a crash
        raise RefreshError(f"could not derive {name} ({derive}): {error}") from error


def _compare(data_dir: Path, name: str, new: bytes, spec: dict) -> FileChange:
    current = data_dir / name
    if not current.is_file():
        return FileChange(name, new=True)
    old_header, old_rows = _keyed_rows(current.read_bytes(), spec["key"], name)
    new_header, new_rows = _keyed_rows(new, spec["key"], name)
    if old_header != new_header:
        added = [c for c in new_header if c not in old_header]
        removed = [c for c in old_header if c not in new_header]
        raise RefreshError(
            f"columns changed in {name}: added {added or 'none'}, removed {removed or 'none'}"
            + ("" if added or removed else ", order changed")
        )
    return FileChange(
        name,
        added=len(new_rows.keys() - old_rows.keys()),
        removed=len(old_rows.keys() - new_rows.keys()),
        changed=sum(1 for k in new_rows.keys() & old_rows.keys() if new_rows[k] != old_rows[k]),
    )


def _keyed_rows(data: bytes, key: list[str],
                name: str) -> tuple[list[str], dict[tuple, list[tuple[str, ...]]]]:
    """Return a CSV's header and its rows grouped by key (a key may repeat, as in a history)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    header = next(reader, [])
    missing = [column for column in key if column not in header]
    if missing:
        raise RefreshError(f"columns changed in {name}: key column {missing} is missing")
    positions = [header.index(column) for column in key]
    rows: dict[tuple, list[tuple[str, ...]]] = {}
    for row in reader:
        rows.setdefault(tuple(row[i] for i in positions), []).append(tuple(row))
    return header, rows


def write_plan(plan: Plan, data_dir: Path) -> None:
    """Replace the reference data folder with the refreshed copy, as one swap of folders."""
    data_dir = data_dir.resolve()
    staging = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.new-", dir=data_dir.parent))
    try:
        if data_dir.is_dir():
            shutil.copytree(data_dir, staging, dirs_exist_ok=True)
        for name, data in plan.files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        text = json.dumps(plan.manifest, indent=2, ensure_ascii=False) + "\n"
        (staging / MANIFEST).write_text(text, encoding="utf-8")
        _verify(plan, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap(staging, data_dir)


def _verify(plan: Plan, staging: Path) -> None:
    for name, data in plan.files.items():
        if sha256((staging / name).read_bytes()) != sha256(data):
            raise RefreshError(f"{name} was not written intact")


def _swap(staging: Path, data_dir: Path) -> None:
    old = data_dir.with_name(f".{data_dir.name}.old-{os.getpid()}")
    if data_dir.exists():
        data_dir.rename(old)
    staging.rename(data_dir)
    shutil.rmtree(old, ignore_errors=True)


def check_writable(data_dir: Path) -> None:
    """Refuse to write into an installed package: a refreshed copy belongs in a data folder."""
    resolved = data_dir.resolve()
    if "site-packages" in resolved.parts or not os.access(resolved.parent, os.W_OK):
        raise RefreshError(
            f"{resolved} is part of the installed package; pass --into DIR to write a refreshed "
            "copy there, then set REFERENCE_DATA_DIR=DIR"
        )


# Derivations: each takes the downloaded originals (as bytes, in the manifest's order) and returns
# the shipped CSV. pyarrow and openpyxl are the `refresh` extra's; only a refresh needs them.
INSTALL_HINT = "pip install 'partnermatch[refresh]'"

def derive_lait(parquet: bytes, dictionary: bytes) -> bytes:
    """The latest period of each children's-services measure, numeric values, with polarity.

    For each measure, its latest period across all LAs (the end year of '2021/22-23/24' is 2024);
    every LA's value in that period that is a number. Polarity comes from the data dictionary
    ('High': higher is better, 'Low', '-' or blank).
    """
    table = _parquet_rows(parquet)
    polarity = _lait_polarity(dictionary)
    latest: dict[str, tuple[int, str]] = {}
    for row in table:
        period = (_period_end(row["Years"]), row["Years"])
        latest[row["Short Desc"]] = max(latest.get(row["Short Desc"], period), period)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["la_number", "la_name", "measure_short", "period", "polarity", "value_num"])
    seen = set()
    for row in table:
        value, number = _finite(row["Values"]), row["LA Number"]
        key = (number, row["Short Desc"])
        latest_period = row["Years"] == latest[row["Short Desc"]][1]
        if not latest_period or value is None or number is None or key in seen:
            continue
        seen.add(key)
        writer.writerow([int(number), row["LA and Regions"], row["Short Desc"], row["Years"],
                         polarity.get(row["Short Desc"], ""), repr(value)])
    return out.getvalue().encode("utf-8")


def _parquet_rows(data: bytes) -> list[dict]:
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise RefreshError(f"refreshing needs pyarrow: {INSTALL_HINT}") from error
    return parquet.read_table(io.BytesIO(data)).to_pylist()


def _lait_polarity(dictionary: bytes) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(dictionary.decode("utf-8-sig")))
    return {r["Measure_short"]: ("" if r["Polarity"] == "NA" else r["Polarity"]) for r in rows}


def _period_end(period: str) -> int:
    """The year a period ends: '2024' 2024, '2024-25 (OT)' 2025, '2021/22-23/24' 2024."""
    numbers = re.findall(r"\d+", period)
    if not numbers:
        return 0
    first, last = int(numbers[0]), numbers[-1]
    return int(last) if len(last) == 4 else first // 100 * 100 + int(last)


def _finite(text: object) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


# Published comparator lists are what the model is judged against, never its input: they leave.
COMPARATOR_COLUMNS = frozenset(
    {"stat_neighbours", "stat_neighbour_judgement", "stat_neighbours_la_code",
     "stat_neighbours_previous"}
)


def derive_ofsted_overview(workbook: bytes) -> bytes:
    """The overview workbook's first sheet as CSV, without the statistical-neighbour columns."""
    try:
        import openpyxl
    except ImportError as error:
        raise RefreshError(f"refreshing needs openpyxl: {INSTALL_HINT}") from error
    book = openpyxl.load_workbook(io.BytesIO(workbook), read_only=True, data_only=True)
    rows = [[_cell(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    return _without_columns(rows, COMPARATOR_COLUMNS)


def derive_provider_lookup(lookup: bytes) -> bytes:
    """The Ofsted provider lookup without the statistical-neighbour columns."""
    rows = list(csv.reader(io.StringIO(lookup.decode("utf-8-sig"))))
    return _without_columns(rows, COMPARATOR_COLUMNS)


def _cell(value: object) -> str:
    """A worksheet cell as text; the workbook writes a missing value as empty, "None" or "nan"."""
    if value is None or value in ("None", "nan"):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _without_columns(rows: list[list[str]], drop: frozenset[str]) -> bytes:
    if not rows:
        raise RefreshError("the file is empty")
    keep = [i for i, column in enumerate(rows[0]) if column not in drop]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([row[i] if i < len(row) else "" for i in keep])
    return out.getvalue().encode("utf-8")


DERIVATIONS: dict[str, Callable[..., bytes]] = {
    "lait": derive_lait,
    "ofsted_overview": derive_ofsted_overview,
    "provider_lookup": derive_provider_lookup,
}
