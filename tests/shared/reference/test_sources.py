"""`partnermatch data refresh` against a local server that speaks GitHub's raw files and API."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from partnermatch.config.settings import SHIPPED_REFERENCE_DIR
from partnermatch.services.cli import main
from partnermatch.shared.reference import readers as reference
from partnermatch.shared.reference.census import CENSUS
from partnermatch.shared.reference.sources import (
    MANIFEST,
    RefreshError,
    check_writable,
    derive_lait,
    derive_ofsted_overview,
    derive_provider_lookup,
    sha256,
)

OLD, NEW = "a" * 40, "b" * 40
REGISTER = "council_register/councils.csv"
LAIT = "lait/DERIVED_latest.csv"
REGISTER_V1 = b"code,name,population\nABC,Abbey,100\nBCD,Bridge,200\nCDE,Crag,300\n"
REGISTER_V2 = b"code,name,population\nABC,Abbey,100\nBCD,Bridge,250\nCDE,Crag,300\nDEF,Dale,50\n"
DICTIONARY = b'"Measure_short","Polarity"\n"CLA","Low"\n"KS2","High"\n"NEW","NA"\n'


def _parquet(rows: list[tuple[str, str, str, str, float | None]]) -> bytes:
    columns = ["Short Desc", "Years", "LA and Regions", "Values", "LA Number"]
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


LAIT_VALUES = _parquet([
    ("CLA", "2022-23", "Abbey", "70", 301.0),
    ("CLA", "2023-24", "Abbey", "75", 301.0),
    ("CLA", "2023-24", "Abbey", "75", 301.0),  # a repeated row is written once
    ("CLA", "2023-24", "Bridge", "c", 302.0),  # suppressed: not a number, left out
    ("KS2", "2021/22-23/24", "Abbey", "61.5", 301.0),
    ("KS2", "2020/21-22/23", "Abbey", "60", 301.0),
    ("KS2", "2021/22-23/24", "England", "59", 970.0),
    ("NEW", "2024-25 (OT)", "Bridge", "3", 302.0),
    ("NEW", "2024", "Bridge", "2", 302.0),
    ("CLA", "2023-24", "Nowhere", "1", None),  # no LA number: left out
])


class Upstream:
    """Files by (repository, commit, path), refs by (repository, ref), and failures to serve."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.refs: dict[tuple[str, str], str] = {}
        self.failing: set[str] = set()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server interface
                path = unquote(self.path)
                if any(part in path for part in upstream.failing):
                    self.send_error(500)
                elif path.startswith("/api/repos/"):
                    owner, name, _, ref = path.removeprefix("/api/repos/").split("/", 3)
                    self._answer(upstream.refs.get((f"{owner}/{name}", ref)), as_commit=True)
                else:
                    owner, name, commit, file = path.removeprefix("/raw/").split("/", 3)
                    self._answer(upstream.files.get((f"{owner}/{name}", commit, file)))

            def _answer(self, body: bytes | str | None, as_commit: bool = False) -> None:
                if body is None:
                    self.send_error(404)
                    return
                data = json.dumps({"sha": body}).encode() if as_commit else body
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    state = Upstream()
    server = ThreadingHTTPServer(("127.0.0.1", 0), state.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def data_dir(tmp_path, upstream, monkeypatch) -> Path:
    """A reference folder of two sources, one file copied and one derived, as shipped at OLD."""
    state, _ = upstream
    state.files.update({
        ("example/register", OLD, "data/councils.csv"): REGISTER_V1,
        ("dfe/lait", OLD, "prod/values.parquet"): LAIT_VALUES,
        ("dfe/lait", OLD, "prod/dictionary.csv"): DICTIONARY,
    })
    folder = tmp_path / "reference"
    (folder / "council_register").mkdir(parents=True)
    (folder / "lait").mkdir()
    (folder / REGISTER).write_bytes(REGISTER_V1)
    (folder / LAIT).write_bytes(derive_lait(LAIT_VALUES, DICTIONARY))
    (folder / "README.md").write_text("provenance\n")
    manifest = {
        "repositories": {
            "example/register": {"commit": OLD, "licence": "CC BY 4.0", "attribution": "x"},
            "dfe/lait": {"commit": OLD, "licence": "OGL-UK-3.0", "attribution": "y"},
        },
        "originals": {
            "register": {"repo": "example/register", "path": "data/councils.csv",
                         "sha256": sha256(REGISTER_V1)},
            "values": {"repo": "dfe/lait", "path": "prod/values.parquet",
                       "sha256": sha256(LAIT_VALUES)},
            "dictionary": {"repo": "dfe/lait", "path": "prod/dictionary.csv",
                           "sha256": sha256(DICTIONARY)},
        },
        "files": {
            REGISTER: {"from": ["register"], "key": ["code"]},
            LAIT: {"from": ["values", "dictionary"], "derive": "lait",
                   "key": ["la_number", "measure_short"]},
        },
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setenv("REFERENCE_DATA_DIR", str(folder))
    return folder


def _refresh(base_url: str, *args: str):
    options = ["--raw-url", f"{base_url}/raw", "--api-url", f"{base_url}/api"]
    return CliRunner().invoke(main, ["data", "refresh", *options, *args])


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_refresh_at_the_pinned_commits_changes_nothing(data_dir, upstream):
    before = _snapshot(data_dir)
    result = _refresh(upstream[1])
    assert result.exit_code == 0, result.output
    assert f"{REGISTER}: unchanged" in result.output
    assert f"{LAIT}: unchanged" in result.output
    assert "the copy is up to date" in result.output
    assert _snapshot(data_dir) == before


def test_a_newer_commit_is_reported_row_by_row_and_applied(data_dir, upstream):
    state, base_url = upstream
    state.refs[("example/register", "main")] = NEW
    state.files[("example/register", NEW, "data/councils.csv")] = REGISTER_V2
    result = _refresh(base_url, "--update", "example/register=main")
    assert result.exit_code == 0, result.output
    assert f"example/register: {OLD[:7]} -> {NEW[:7]}" in result.output
    assert f"{REGISTER}: 1 rows added, 0 removed, 1 changed" in result.output
    assert (data_dir / REGISTER).read_bytes() == REGISTER_V2
    manifest = json.loads((data_dir / MANIFEST).read_text())
    assert manifest["repositories"]["example/register"]["commit"] == NEW
    assert manifest["repositories"]["dfe/lait"]["commit"] == OLD
    assert manifest["originals"]["register"]["sha256"] == sha256(REGISTER_V2)
    assert (data_dir / "README.md").read_text() == "provenance\n"
    assert not list(data_dir.parent.glob(".reference.*")), "no staging folder is left behind"


def test_dry_run_reports_and_writes_nothing(data_dir, upstream):
    state, base_url = upstream
    state.refs[("example/register", "HEAD")] = NEW
    state.files[("example/register", NEW, "data/councils.csv")] = REGISTER_V2
    before = _snapshot(data_dir)
    result = _refresh(base_url, "--update", "example/register", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "1 rows added" in result.output and "nothing written" in result.output
    assert _snapshot(data_dir) == before


@pytest.mark.parametrize("failing", ["prod/values.parquet", "data/councils.csv"])
def test_a_failed_download_leaves_the_copy_and_says_why(data_dir, upstream, failing):
    state, base_url = upstream
    state.failing.add(failing)
    before = _snapshot(data_dir)
    result = _refresh(base_url)
    assert result.exit_code != 0
    assert "download failed" in result.output and "answered 500" in result.output
    assert "left as it was" in result.output
    assert _snapshot(data_dir) == before


def test_changed_columns_leave_the_copy_and_name_them(data_dir, upstream):
    state, base_url = upstream
    state.refs[("example/register", "main")] = NEW
    renamed = REGISTER_V2.replace(b"population", b"people")
    state.files[("example/register", NEW, "data/councils.csv")] = renamed
    before = _snapshot(data_dir)
    result = _refresh(base_url, "--update", "example/register=main")
    assert result.exit_code != 0
    assert f"columns changed in {REGISTER}" in result.output
    assert "['people']" in result.output and "['population']" in result.output
    assert _snapshot(data_dir) == before


def test_a_pinned_file_that_differs_from_its_checksum_is_refused(data_dir, upstream):
    state, base_url = upstream
    state.files[("example/register", OLD, "data/councils.csv")] = REGISTER_V2
    before = _snapshot(data_dir)
    result = _refresh(base_url)
    assert result.exit_code != 0
    assert "checksum mismatch for example/register/data/councils.csv" in result.output
    assert _snapshot(data_dir) == before


def test_an_unknown_source_or_unresolvable_ref_is_refused(data_dir, upstream):
    result = _refresh(upstream[1], "--update", "someone/else=main")
    assert result.exit_code != 0 and "not a source of the reference data" in result.output
    result = _refresh(upstream[1], "--update", "example/register=no-such-branch")
    assert result.exit_code != 0 and "answered 404" in result.output


def test_refresh_into_a_new_folder_keeps_the_current_copy(data_dir, upstream, tmp_path):
    state, base_url = upstream
    state.refs[("example/register", "main")] = NEW
    state.files[("example/register", NEW, "data/councils.csv")] = REGISTER_V2
    before = _snapshot(data_dir)
    target = tmp_path / "refreshed"
    result = _refresh(base_url, "--update", "example/register=main", "--into", str(target))
    assert result.exit_code == 0, result.output
    assert _snapshot(data_dir) == before
    assert (target / REGISTER).read_bytes() == REGISTER_V2
    assert (target / "README.md").is_file()


def test_the_copy_inside_an_installed_package_is_not_written(tmp_path):
    installed = tmp_path / "lib" / "site-packages" / "partnermatch" / "shared" / "reference_data"
    installed.mkdir(parents=True)
    with pytest.raises(RefreshError, match="--into DIR"):
        check_writable(installed)


def test_lait_keeps_each_measures_latest_period_numbers_once():
    rows = list(csv.DictReader(io.StringIO(derive_lait(LAIT_VALUES, DICTIONARY).decode())))
    got = {(r["la_number"], r["measure_short"]): (r["period"], r["polarity"], r["value_num"])
           for r in rows}
    assert len(rows) == len(got) == 4
    assert got == {
        ("301", "CLA"): ("2023-24", "Low", "75.0"),
        ("301", "KS2"): ("2021/22-23/24", "High", "61.5"),
        ("970", "KS2"): ("2021/22-23/24", "High", "59.0"),
        ("302", "NEW"): ("2024-25 (OT)", "", "3.0"),
    }


def test_ofsted_files_lose_the_comparator_lists_and_placeholder_blanks():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["urn", "stat_neighbours", "stat_neighbour_judgement", "region_code", "grade",
                  "local_link"])
    sheet.append(["80426", "372, 384", "[(372, 'good')]", "nan", "good", 0])
    sheet.append(["80438", "1, 2", "[]", "SE", "None", None])
    out = io.BytesIO()
    book.save(out)
    assert derive_ofsted_overview(out.getvalue()) == (
        b"urn,region_code,grade,local_link\n80426,,good,0\n80438,SE,,\n"
    )
    lookup = (b"\xef\xbb\xbfurn,la_code,stat_neighbours,stat_neighbours_la_code,domain\n"
              b'1,301,"2, 3","E1, E2",x.gov.uk\n')
    assert derive_provider_lookup(lookup) == b"urn,la_code,domain\n1,301,x.gov.uk\n"


def test_the_shipped_manifest_pins_every_file_the_service_reads():
    manifest = json.loads((SHIPPED_REFERENCE_DIR / MANIFEST).read_text())
    read = {reference.REGISTER, reference.NAMES, reference.IMD, reference.RURALITY,
            reference.LAIT, reference.ASC, reference.OFSTED_LOOKUP, reference.OFSTED_HISTORY,
            reference.OFSTED_OVERVIEW, reference.HOMEPAGES, CENSUS}
    assert read <= set(manifest["files"])
    for name, spec in manifest["files"].items():
        shipped = (SHIPPED_REFERENCE_DIR / name).read_bytes()
        assert spec["from"] and all(source in manifest["originals"] for source in spec["from"])
        if "derive" not in spec:  # a byte-for-byte copy has its original's checksum
            assert sha256(shipped) == manifest["originals"][spec["from"][0]]["sha256"], name
        header = next(csv.reader(io.StringIO(shipped.decode("utf-8-sig"))))
        assert set(spec["key"]) <= set(header), name
        assert not {"stat_neighbours", "stat_neighbours_la_code"} & set(header), name
    for original in manifest["originals"].values():
        commit = manifest["repositories"][original["repo"]]["commit"]
        assert len(commit) == 40 and len(original["sha256"]) == 64
