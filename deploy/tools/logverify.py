"""``logverify``: the project's own Go program (``tools/logverify/``) that checks Docket's
C2SP checkpoints and Merkle proofs with the transparency-dev reference code
(``github.com/transparency-dev/formats`` v0.1.1, ``github.com/transparency-dev/merkle``
v0.0.2, ``golang.org/x/mod/sumdb/note``, pinned in its ``go.mod``)."""

from __future__ import annotations

from pathlib import Path

from deploy.tools import ROOT, go_build_local

SOURCE = ROOT / "tools" / "logverify"


def ensure() -> Path:
    """The ``logverify`` binary, built into ``.cache/tools/`` on first use."""
    return go_build_local("logverify", SOURCE)
