"""Which browser the browser tests use, and that without one they fail rather than skip."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests import PROJECT_ROOT
from tests.services.api import browser
from tests.services.api.browser import NO_BROWSER, find_chromium, require_chromium


def playwright_with_browser_at(path) -> SimpleNamespace:
    """What the fixture reads from Playwright: where its own Chromium is (or would be)."""
    return SimpleNamespace(chromium=SimpleNamespace(executable_path=str(path)))


@pytest.fixture
def no_system_chromium(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr(browser, "SYSTEM_CHROMIUM", tmp_path / "usr-bin-chromium")
    monkeypatch.setenv("PATH", str(tmp_path))


def test_the_system_chromium_comes_first(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMIUM", raising=False)
    system = tmp_path / "chromium"
    system.write_text("")
    monkeypatch.setattr(browser, "SYSTEM_CHROMIUM", system)
    own = tmp_path / "playwright-chrome"
    own.write_text("")
    assert find_chromium(str(own)) == str(system)


def test_without_a_system_chromium_playwrights_own_is_used(no_system_chromium, tmp_path):
    own = tmp_path / "ms-playwright" / "chrome"
    own.parent.mkdir()
    own.write_text("")
    assert require_chromium(playwright_with_browser_at(own)) == str(own)


def test_without_any_browser_the_fixture_fails_saying_how_to_get_one(no_system_chromium, tmp_path):
    with pytest.raises(pytest.fail.Exception) as failure:
        require_chromium(playwright_with_browser_at(tmp_path / "not-installed" / "chrome"))
    assert str(failure.value) == NO_BROWSER
    assert "apt-get install chromium" in NO_BROWSER and "playwright install" in NO_BROWSER


def test_a_browser_test_without_a_browser_is_an_error_never_a_skip(tmp_path):
    env = {**os.environ, "CHROMIUM": str(tmp_path / "no-such-chromium")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA",
         "tests/services/api/test_api_docs_browser.py"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 1, run.stdout
    assert "1 error" in run.stdout and "skipped" not in run.stdout, run.stdout
    assert "No Chromium for the browser tests" in run.stdout


def test_the_browser_check_that_make_test_runs_names_the_browser_or_says_how_to_get_one(tmp_path):
    check = [sys.executable, "-m", "tests.services.api.browser"]
    found = subprocess.run(check, cwd=PROJECT_ROOT, capture_output=True, text=True,
                           env={**os.environ, "CHROMIUM": sys.executable})
    assert (found.returncode, found.stdout.strip()) == (0, sys.executable)
    missing = subprocess.run(check, cwd=PROJECT_ROOT, capture_output=True, text=True,
                             env={**os.environ, "CHROMIUM": str(tmp_path / "none")})
    assert (missing.returncode, missing.stderr.strip()) == (1, NO_BROWSER)
