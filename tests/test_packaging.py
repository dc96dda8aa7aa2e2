"""The built package carries the reference data and runs anywhere, writing only where it runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests import PROJECT_ROOT

ROOT = PROJECT_ROOT
IGNORED = shutil.ignore_patterns("node_modules", "__pycache__", "*.pyc")


SOURCES = ("pyproject.toml", "README.md", "config", "services", "shared")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the sources, so the build leaves nothing in the checkout."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=IGNORED)
        else:
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--wheel-dir", str(out), str(source)],
        check=True, cwd=out, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    (built,) = out.glob("partnermatch-*.whl")
    return built


def test_the_wheel_installs_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert tops == {"partnermatch"}


def test_the_wheel_carries_every_module_of_the_checkout(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {f"partnermatch/{path.relative_to(ROOT).as_posix()}"
               for folder in ("config", "services", "shared")
               for path in (ROOT / folder).rglob("*.py") if "node_modules" not in path.parts}
    assert modules - names == set()


def test_the_wheel_carries_every_shipped_reference_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    manifest = json.loads((ROOT / "shared" / "reference_data" / "sources.json").read_text())
    shipped = "partnermatch/shared/reference_data"
    expected = {f"{shipped}/{name}" for name in manifest["files"]}
    expected |= {f"{shipped}/sources.json", f"{shipped}/README.md"}
    assert expected <= names


def test_an_installed_copy_seeds_from_its_own_data_and_writes_in_the_working_directory(
        wheel, tmp_path):
    installed, workdir = tmp_path / "site", tmp_path / "elsewhere"
    workdir.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
                    str(installed), str(wheel)], check=True)
    env = {key: value for key, value in os.environ.items()
           if key not in {"REFERENCE_DATA_DIR", "DATABASE_URL", "VAR_DIR"}}
    env["PYTHONPATH"] = str(installed)
    cli = [sys.executable, "-c", "from partnermatch.services.cli import main; main()"]

    def run(*args: str) -> str:
        done = subprocess.run([*cli, *args], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "database is up to date" in run("db", "upgrade")
    seeded = run("seed")
    assert f"from {installed / 'partnermatch' / 'shared' / 'reference_data'}" in seeded
    assert int(seeded.split("register: ")[1].split()[0]) > 380  # the current UK councils
    assert (workdir / "var" / "partnermatch.db").is_file()
    assert not list(installed.rglob("*.db")) and not (installed / "var").exists()
