"""``python -m deploy.tools [--background] TOOL...``: fetch or build tools ahead of use.

``make test`` starts the slow Go builds (Jaeger takes minutes on a fresh machine) in the
background before lint, so they overlap with it and the first tests; a test that needs
a tool meanwhile waits on the build's lock (``deploy/tools/__init__.py``) instead of
building it twice. Without ``--background`` the tools are made here, one after the
other, and their paths printed.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from deploy.tools import TOOLS_DIR, ToolUnavailable

TOOLS = (
    "jaeger",
    "toxiproxy",
    "logverify",
    "asyncapi",
    "chromium",
    "axe",
    "oidc_provider",
    "netfilter",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.tools", description=__doc__)
    parser.add_argument("--background", action="store_true", help="build detached, log to .cache")
    parser.add_argument("tools", nargs="+", choices=TOOLS)
    args = parser.parse_args(argv)
    if args.background:
        TOOLS_DIR.mkdir(parents=True, exist_ok=True)
        log_path = TOOLS_DIR / "background-build.log"
        with open(log_path, "w") as log:
            subprocess.Popen(
                [sys.executable, "-m", "deploy.tools", *args.tools],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        print(f"building {', '.join(args.tools)} in the background (log: {log_path})")
        return 0
    failed = 0
    for name in args.tools:
        try:
            print(f"{name}: {importlib.import_module(f'deploy.tools.{name}').ensure()}")
        except ToolUnavailable as error:
            print(error, file=sys.stderr)
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
