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

ROOT = Path(__file__).resolve().parent.parent
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


def test_the_wheel_carries_every_shipped_reference_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    manifest = json.loads((ROOT / "shared" / "reference_data" / "sources.json").read_text())
    expected = {f"shared/reference_data/{name}" for name in manifest["files"]}
    expected |= {"shared/reference_data/sources.json", "shared/reference_data/README.md"}
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
    cli = [sys.executable, "-c", "from services.cli import main; main()"]

    def run(*args: str) -> str:
        done = subprocess.run([*cli, *args], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "database is up to date" in run("db", "upgrade")
    seeded = run("seed")
    assert f"from {installed / 'shared' / 'reference_data'}" in seeded
    assert int(seeded.split("register: ")[1].split()[0]) > 380  # the current UK councils
    assert (workdir / "var" / "partnermatch.db").is_file()
    assert not list(installed.rglob("*.db")) and not (installed / "var").exists()
