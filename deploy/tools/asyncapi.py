"""The official AsyncAPI parser (``@asyncapi/parser`` from npm), to validate
``docs/asyncapi.json`` the way AsyncAPI's own tools do (``tests/contract``)."""

from __future__ import annotations

from pathlib import Path

from deploy.tools import npm_install

PARSER = "@asyncapi/parser"
VERSION = "3.6.3"


def ensure() -> Path:
    """The folder whose ``node_modules/`` holds the parser (installed on first use)."""
    return npm_install("asyncapi-parser", {PARSER: VERSION})


if __name__ == "__main__":
    print(ensure())
