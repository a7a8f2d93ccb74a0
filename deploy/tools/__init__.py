"""Third-party programs the tests and ``make run`` need, fetched by name and pinned version.

Nothing third-party is committed: each tool is built or installed from its registry
(the Go module proxy, npm) into ``.cache/tools/<name>-<version>/`` on first use, and
reused after. One module per tool beside this one (``jaeger.py``, ``toxiproxy.py``, ...)
names its module and version and calls :func:`go_build` or :func:`npm_install`; a
program of the project's own (``tools/<name>/``, its ``go.mod`` pinning its modules) is
built with :func:`go_build_local`. System programs (``chromium``, ``ip`` and ``nft``)
come from Debian through :func:`apt_install` where missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
TOOLS_DIR: Final = ROOT / ".cache" / "tools"


class ToolUnavailable(RuntimeError):
    """A tool could not be fetched or built (the registry or the toolchain refused)."""


@contextmanager
def locked(target: Path) -> Iterator[None]:
    """One builder at a time per tool, across processes (pytest workers, ``make run``)."""
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    with open(TOOLS_DIR / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def go_build(name: str, module: str, version: str, package: str | None = None) -> Path:
    """Build ``package`` (default: ``module``) of ``module@version`` into the cache.

    Returns the path of the binary. The build happens in a throwaway Go module, so the
    project needs no ``go.mod``; ``go get -tool`` records the exact version the proxy
    served. Raises :class:`ToolUnavailable` with the tool's own message on failure.
    """
    target = TOOLS_DIR / f"{name}-{version}" / name
    with tempfile.TemporaryDirectory(prefix=f"build-{name}-") as work:
        steps = [
            ["mod", "init", f"docket.local/tools/{name}"],
            ["get", "-tool", f"{package or module}@{version}"],
            ["build", "-o", str(target), package or module],
        ]
        return _go_once(name, target, Path(work), steps, "-buildvcs=false")


def go_build_local(name: str, path: Path) -> Path:
    """Build the Go module of the project's own at ``path`` (its ``go.mod`` and
    ``go.sum`` pin every dependency, fetched from the Go module proxy) into the cache.

    The binary's folder is named by a digest of the module's files, so an edit rebuilds
    it. Returns the path of the binary; raises :class:`ToolUnavailable` on failure.
    """
    sources = sorted(
        file
        for file in path.rglob("*")
        if file.is_file() and file.suffix in {".go", ".mod", ".sum"}
    )
    digest = hashlib.sha256()
    for file in sources:
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + file.read_bytes())
    target = TOOLS_DIR / f"{name}-{digest.hexdigest()[:12]}" / name
    steps = [["build", "-o", str(target), "."]]
    return _go_once(name, target, path, steps, "-buildvcs=false -mod=readonly")


def _go_once(name: str, target: Path, cwd: Path, steps: list[list[str]], goflags: str) -> Path:
    """Run the ``go`` ``steps`` in ``cwd`` unless ``target`` exists, one builder at a time."""
    if target.exists():
        return target
    with locked(target):
        if target.exists():
            return target
        go = shutil.which("go")
        if go is None:
            raise ToolUnavailable(f"{name}: the go command is not installed")
        env = {**os.environ, "GOFLAGS": goflags, "CGO_ENABLED": "0"}
        for step in steps:
            done = subprocess.run(
                [go, *step], cwd=cwd, env=env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                raise ToolUnavailable(f"{name}: go {' '.join(step[:2])} failed: {tail}")
    return target


def apt_install(name: str, packages: list[str], installed: Callable[[], bool]) -> None:
    """``apt-get install`` Debian ``packages`` (as root, the tests' user in CI), one
    installer at a time, unless ``installed()`` says another process did it while this
    one waited for the lock; ``name`` labels the lock and the errors. Raises
    :class:`ToolUnavailable` with apt's own message on failure."""
    with locked(Path(name)):
        if installed():
            return
        apt = shutil.which("apt-get")
        if apt is None:
            raise ToolUnavailable(f"{name}: not installed and there is no apt-get to install it")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", *packages]):
            done = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                raise ToolUnavailable(f"{name}: apt-get {step[1]} failed: {tail}")


def npm_install(name: str, packages: dict[str, str]) -> Path:
    """``npm install`` exact ``{package: version}`` into the cache; returns its folder.

    The folder holds ``node_modules/`` (and ``node_modules/.bin/``) of those packages.
    """
    folder = TOOLS_DIR / f"{name}-{'-'.join(v for v in packages.values())}"
    done_marker = folder / ".installed"
    if done_marker.exists():
        return folder
    with locked(folder):
        if done_marker.exists():
            return folder
        npm = shutil.which("npm")
        if npm is None:
            raise ToolUnavailable(f"{name}: the npm command is not installed")
        folder.mkdir(parents=True, exist_ok=True)
        specs = [f"{package}@{version}" for package, version in packages.items()]
        done = subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--save-exact",
                "--prefix",
                str(folder),
                *specs,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise ToolUnavailable(f"{name}: npm install failed: {tail}")
        done_marker.touch()
    return folder
