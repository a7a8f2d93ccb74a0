"""Debian's ``chromium`` package: the real browser the console's tests drive through
Playwright (``tests/fixtures/browser.py``). Installed with ``apt-get`` where missing
(the machines this project runs on are Debian; the tests run as root in CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from deploy.tools import ToolUnavailable, locked

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
    with locked(Path(PACKAGE)):
        found = find()
        if found is not None:
            return found
        apt = shutil.which("apt-get")
        if apt is None:
            raise ToolUnavailable("chromium: not installed and there is no apt-get to install it")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", PACKAGE]):
            done = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                raise ToolUnavailable(f"chromium: {' '.join(step[1:2])} failed: {tail}")
    found = find()
    if found is None:
        raise ToolUnavailable("chromium: apt-get installed the package but no chromium is on PATH")
    return found


if __name__ == "__main__":
    print(ensure())
