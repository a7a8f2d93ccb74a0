"""Jaeger, the trace viewer ``make run`` starts and the e2e trace test reads back from.

Built from the Go module proxy on first use (``go_build``), pinned to the approved release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from deploy.tools import go_build

MODULE: Final = "github.com/jaegertracing/jaeger"
PACKAGE: Final = "github.com/jaegertracing/jaeger/cmd/jaeger"
VERSION: Final = "v1.75.0"


def ensure() -> Path:
    """The path of the ``jaeger`` binary, building it into ``.cache/tools/`` the first time."""
    return go_build("jaeger", MODULE, VERSION, PACKAGE)
