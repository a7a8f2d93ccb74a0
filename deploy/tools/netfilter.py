"""``ip`` (iproute2) and ``nft`` (nftables): what the partition test
(``tests/chaos/test_partition.py``) cuts a Kafka node off its peers with. Installed
from Debian with ``apt-get`` where missing (the chaos suite runs as root).
``ensure()`` returns the ``nft`` executable."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

from deploy.tools import ToolUnavailable, apt_install

#: Debian package -> the command it provides.
PACKAGES: Final = {"iproute2": "ip", "nftables": "nft"}


def missing() -> list[str]:
    """The packages whose command is not on PATH."""
    return [package for package, command in PACKAGES.items() if shutil.which(command) is None]


def ensure() -> Path:
    """``nft``, with ``ip`` beside it; installs what is missing."""
    if missing():
        apt_install("netfilter", missing(), installed=lambda: not missing())
    if missing():
        raise ToolUnavailable(f"netfilter: apt-get installed {missing()} but not their commands")
    nft = shutil.which("nft")
    assert nft is not None
    return Path(nft)


if __name__ == "__main__":
    print(ensure())
