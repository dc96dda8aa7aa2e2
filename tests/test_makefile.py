"""The Makefile on a machine without a suitable Python: it says plainly what is missing.

Each stand-in `python3` answers the three questions the Makefile asks (is it 3.11+, which version
is it, can it make a virtualenv) as that Python would; nothing else is on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests import PROJECT_ROOT

MAKE = shutil.which("make")


def stand_in_python(folder: Path, name: str, version: str, has_venv: bool = True) -> Path:
    new_enough = tuple(int(part) for part in version.split(".")[:2]) >= (3, 11)
    script = folder / name
    script.write_text(f"""#!/bin/sh
case "$2" in
  *version_info*) [ {int(new_enough)} = 1 ] ;;
  *sys.version.split*) echo "Python {version}" ;;
  *ensurepip*) [ {int(has_venv)} = 1 ] ;;
esac
""")
    script.chmod(0o755)
    return script


@pytest.fixture
def project(tmp_path) -> Path:
    """A folder with the project's Makefile and pyproject.toml, and an empty bin/ for PATH."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy2(PROJECT_ROOT / "Makefile", folder)
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", folder)
    (tmp_path / "bin").mkdir()
    return folder


def make(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    path = str(project.parent / "bin")
    return subprocess.run([MAKE, "-C", str(project), *arguments], env={"PATH": path},
                          capture_output=True, text=True, timeout=60)


def test_with_no_python_make_says_python_3_11_is_needed(project):
    run = make(project, "run")
    assert run.returncode != 0
    assert ("partnermatch needs Python 3.11 or newer, and none was found on PATH (python3: none)"
            in run.stderr)
    assert "make PYTHON=/path/to/python3.11 run" in run.stderr
    assert not (project / ".venv").exists()


def test_an_older_python3_is_named_with_its_version(project):
    stand_in_python(project.parent / "bin", "python3", "3.10.12")
    run = make(project, "test")
    assert run.returncode != 0
    assert "none was found on PATH (python3: Python 3.10.12)" in run.stderr
    assert not (project / ".venv").exists()


def test_an_older_python_named_on_the_command_line_is_refused(project):
    old = stand_in_python(project.parent / "bin", "python3.10", "3.10.12")
    run = make(project, f"PYTHON={old}", "install")
    assert run.returncode != 0
    assert f"partnermatch needs Python 3.11 or newer; {old} is Python 3.10.12." in run.stderr
    assert not (project / ".venv").exists()


def test_a_python_without_its_venv_module_is_named_with_the_package_to_install(project):
    stand_in_python(project.parent / "bin", "python3", "3.12.3", has_venv=False)
    run = make(project, "install")
    assert run.returncode != 0
    assert "python3 cannot create virtual environments: install its venv module" in run.stderr
    assert "apt-get install python3-venv" in run.stderr


def test_a_newer_python_is_found_when_python3_is_too_old(project):
    stand_in_python(project.parent / "bin", "python3", "3.10.12")
    stand_in_python(project.parent / "bin", "python3.12", "3.12.3")
    run = make(project, "-n", "install")
    assert "python3.12 -m venv .venv" in run.stdout
