"""Toxiproxy, the fault proxy the chaos tests put between a service and the broker or PostgreSQL.

Built from the Go module proxy by pinned version into ``.cache/tools/`` on first use
(see :func:`deploy.tools.go_build`). ``ensure()`` returns the ``toxiproxy-server`` binary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from deploy.tools import go_build

MODULE: Final = "github.com/Shopify/toxiproxy/v2"
VERSION: Final = "v2.12.0"
PACKAGE: Final = f"{MODULE}/cmd/server"


def ensure() -> Path:
    """The ``toxiproxy-server`` binary, built once per version."""
    return go_build("toxiproxy-server", MODULE, VERSION, PACKAGE)


if __name__ == "__main__":
    print(ensure())
