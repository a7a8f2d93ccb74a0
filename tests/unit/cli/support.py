"""Running ``docket`` in tests: in this process (``shared.cli.main``, with stdout and
stderr captured) or as a real process (``python -m shared.cli``)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.cli import COMMANDS, Command, Group, main

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def docket(capsys: pytest.CaptureFixture[str], *args: str, stdin: bytes | None = None) -> Ran:
    """``docket ARGS`` in this process; ``stdin`` replaces standard input."""
    capsys.readouterr()
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        code = main(list(args))
    finally:
        sys.stdin = saved
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def docket_process(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, timeout: float = 120
) -> Ran:
    """``docket ARGS`` as its own process, as a shell would run it."""
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout.decode(), done.stderr.decode())


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every group and command of :data:`shared.cli.COMMANDS`, as its words."""
    for name, entry in COMMANDS.items():
        yield (name,)
        if isinstance(entry, Group):
            for sub in entry.commands:
                yield (name, sub)


def leaf_commands() -> Iterator[tuple[tuple[str, ...], Command]]:
    for name, entry in COMMANDS.items():
        if isinstance(entry, Group):
            for sub, command in entry.commands.items():
                yield (name, sub), command
        else:
            yield (name,), entry


def assert_one_error_line(ran: Ran, code: int, *fragments: str) -> None:
    """The command failed with ``code`` and said so in exactly one line on stderr."""
    assert ran.code == code, (ran.code, ran.err)
    assert ran.out == ""
    assert ran.err.endswith("\n"), ran.err
    assert ran.err.count("\n") == 1, ran.err
    assert "Traceback" not in ran.err
    assert ran.err.startswith("docket")
    for fragment in fragments:
        assert fragment in ran.err, (fragment, ran.err)
