"""Run every benchmark in this package: the quality report, then the scale benchmark."""

from __future__ import annotations

import sys

from bench import quality, scale


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    quality.main([])
    print()
    scale.main(argv)


if __name__ == "__main__":
    main()
