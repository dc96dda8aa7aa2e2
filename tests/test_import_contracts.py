"""The import contracts in pyproject.toml hold on the checkout, and `lint-imports` (which
`make test` runs) fails naming the contract when a module breaks one.

Each broken case adds one bad import to a copy of the sources, laid out as the installed
`partnermatch` package, and runs `lint-imports` on that copy. (The domain importing the API breaks
the API-and-worker contract too: the worker would then reach the API through the domain.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import PROJECT_ROOT

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
FOLDERS = ("shared", "services", "config")

DOMAIN = "The domain never imports the services or the configuration"
MATCHING = "The matching model never imports SQLAlchemy"
SERVICES = "The API and the worker never import each other"


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def copy(tmp_path) -> Path:
    """The Python sources under tmp/src/partnermatch/, with pyproject.toml in tmp/."""
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", tmp_path)
    for folder in FOLDERS:
        for source in (PROJECT_ROOT / folder).rglob("*.py"):
            if "node_modules" in source.parts:
                continue
            target = tmp_path / "src" / "partnermatch" / source.relative_to(PROJECT_ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return tmp_path


def add_import(copy: Path, module: str, statement: str) -> None:
    path = copy / "src" / "partnermatch" / module
    path.write_text(path.read_text() + f"\n{statement}\n")


def test_the_checkout_keeps_every_contract():
    done = lint_imports(PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken\.", done.stdout)
    for name in (DOMAIN, MATCHING, SERVICES):
        assert f"{name} KEPT" in done.stdout


def test_the_copy_is_read_and_keeps_every_contract(copy):
    done = lint_imports(copy, copy / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken\.", done.stdout)


@pytest.mark.parametrize(("module", "statement", "contract", "named"), [
    ("shared/profiles/retention.py", "from partnermatch.services.api import app", DOMAIN,
     "partnermatch.shared.profiles.retention -> partnermatch.services.api.app"),
    ("shared/reference/taxonomy.py", "from partnermatch.config import settings", DOMAIN,
     "partnermatch.shared.reference.taxonomy -> partnermatch.config.settings"),
    ("shared/matching/reasons.py", "import sqlalchemy", MATCHING,
     "partnermatch.shared.matching.reasons -> sqlalchemy"),
    ("services/worker/metrics.py", "from partnermatch.services.api import errors", SERVICES,
     "partnermatch.services.worker.metrics -> partnermatch.services.api.errors"),
], ids=["domain-imports-api", "domain-imports-config", "matching-imports-sqlalchemy",
        "worker-imports-api"])
def test_a_bad_import_fails_naming_the_contract_and_the_import(
        copy, module, statement, contract, named):
    add_import(copy, module, statement)
    done = lint_imports(copy, copy / "src")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{contract} BROKEN" in done.stdout
    broken = done.stdout.split("Broken contracts")[1]
    assert contract in broken and named in broken
