"""The test suite; PROJECT_ROOT is the checkout it runs from."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
