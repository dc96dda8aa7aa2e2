"""Driving the website in Debian's Chromium with Playwright, and checking pages with axe-core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
FRONTEND = PROJECT_ROOT / "services" / "api" / "frontend"
AXE = FRONTEND / "node_modules" / "axe-core" / "axe.min.js"
ASSETS = PROJECT_ROOT / "services" / "api" / "static" / "vendor" / ".built"

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="needs Debian's chromium (.ci/run installs it)")


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
