"""axe-core from npm: the accessibility engine the console's browser tests run on every
page (``tests/fixtures/browser.py`` ``accessibility_violations``)."""

from __future__ import annotations

from pathlib import Path

from deploy.tools import npm_install

PACKAGE = "axe-core"
VERSION = "4.14.1"


def ensure() -> Path:
    """The path of ``axe.min.js`` (installed on first use)."""
    return npm_install("axe-core", {PACKAGE: VERSION}) / "node_modules" / PACKAGE / "axe.min.js"


if __name__ == "__main__":
    print(ensure())
