"""The documentation site builds with no broken link, missing page or unknown anchor."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests import PROJECT_ROOT

ROOT = PROJECT_ROOT


def test_the_docs_build_strictly(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "performance" / "index.html").is_file()


def test_every_page_and_picture_the_readme_links_to_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?!https?://|#)[^)#\s]+)", readme)
    assert targets
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing
