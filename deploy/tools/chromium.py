"""Debian's ``chromium`` package: the real browser the console's tests drive through
Playwright (``tests/fixtures/browser.py``). Installed with ``apt-get`` where missing
(the machines this project runs on are Debian; the tests run as root in CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from deploy.tools import ToolUnavailable, apt_install

PACKAGE = "chromium"
CANDIDATES = ("chromium", "chromium-browser")


def find() -> Path | None:
    """The installed browser, if any (``DOCKET_CHROMIUM`` names another one)."""
    named = os.environ.get("DOCKET_CHROMIUM")
    if named:
        return Path(named)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return Path(path)
    return None


def ensure() -> Path:
    """The browser's executable, installed from Debian on first use."""
    found = find()
    if found is not None:
        return found
    apt_install(PACKAGE, [PACKAGE], installed=lambda: find() is not None)
    found = find()
    if found is None:
        raise ToolUnavailable("chromium: apt-get installed the package but no chromium is on PATH")
    return found


if __name__ == "__main__":
    print(ensure())
