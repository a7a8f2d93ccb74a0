"""panva's ``oidc-provider`` from npm (an OpenID Certified OpenID Provider for Node.js),
run by ``deploy/tools/oidc/provider.mjs`` as the real identity provider of the
console's sign-in tests (``tests/fixtures/oidc.py``)."""

from __future__ import annotations

from pathlib import Path

from deploy.tools import npm_install

PACKAGE = "oidc-provider"
VERSION = "9.13.3"
#: The project's own launcher: the console's client, test accounts, the login pages.
LAUNCHER = Path(__file__).resolve().parent / "oidc" / "provider.mjs"


def ensure() -> Path:
    """The installed package's folder (``.../node_modules/oidc-provider``), installed on
    first use; the launcher imports it from there."""
    return npm_install("oidc-provider", {PACKAGE: VERSION}) / "node_modules" / PACKAGE


if __name__ == "__main__":
    print(ensure())
