"""Driving the website in a real Chromium with Playwright, and checking pages with axe-core.

The browser is the one the CHROMIUM environment variable names, else the system's Chromium
(Debian's /usr/bin/chromium, or `chromium` on PATH), else Playwright's own (`python -m playwright
install chromium`, which `make test` runs when there is none). With no browser the browser tests
fail, saying how to get one: they never skip.
`python -m tests.services.api.browser` prints the browser the tests would use (exit 1: none).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests import PROJECT_ROOT

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
NO_BROWSER = (
    "No Chromium for the browser tests. Install Debian's (`apt-get install chromium`) or "
    "Playwright's (`.venv/bin/python -m playwright install --with-deps chromium`; `make test` "
    "tries this itself when there is none), or set CHROMIUM to a Chromium's path."
)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
FRONTEND = PROJECT_ROOT / "services" / "api" / "frontend"
AXE = FRONTEND / "node_modules" / "axe-core" / "axe.min.js"
ASSETS = PROJECT_ROOT / "services" / "api" / "static" / "vendor" / ".built"


def find_chromium(playwright_chromium_path: str | None) -> str | None:
    """Return $CHROMIUM if set, else the system Chromium, else Playwright's own; None if none is
    installed."""
    if os.environ.get("CHROMIUM"):
        candidates = [os.environ["CHROMIUM"]]
    else:
        candidates = [SYSTEM_CHROMIUM, shutil.which("chromium"), playwright_chromium_path]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def require_chromium(playwright) -> str:
    """Return the Chromium to launch, or fail (never skip) saying how to get one."""
    executable = find_chromium(playwright.chromium.executable_path)
    if executable is None:
        pytest.fail(NO_BROWSER, pytrace=False)
    return executable


def require_assets() -> None:
    """Fail, saying how to fix it, when the front-end assets were never built."""
    if not (ASSETS.exists() and AXE.exists()):
        pytest.fail("front-end assets missing: run `make install` (services/api/frontend/build.sh)")


def axe_violations(page) -> list[dict]:
    """Run axe-core's default rules (WCAG 2.x A and AA, and best practice) on the page."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => (await axe.run(document)).violations")
    return [{"id": v["id"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in results]


def assert_accessible(page) -> None:
    """Fail with axe's findings if the page has any accessibility violation."""
    violations = axe_violations(page)
    assert not violations, f"{page.url}:\n{json.dumps(violations, indent=1)}"


def main() -> int:
    """Print the Chromium the browser tests would use; exit 1, saying how to get one, if none."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        executable = find_chromium(playwright.chromium.executable_path)
    print(executable or NO_BROWSER, file=sys.stdout if executable else sys.stderr)
    return 0 if executable else 1


if __name__ == "__main__":
    sys.exit(main())
