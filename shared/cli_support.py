"""What every ``docket`` command shares: exit codes, the one-line error, ``-`` for
stdin, JSON on stdout and messages on stderr, and running a coroutine against the
database with its failures turned into exit codes.

Stdout carries only a command's result (text for people, or with ``--json`` JSON a
program can parse); progress, explanations, warnings and errors go to stderr, so
``docket ... --json | jq`` always works.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

T = TypeVar("T")

STDIN = "-"


class ExitCode(IntEnum):
    """The exit status of every ``docket`` command (listed in ``docket --help``)."""

    OK = 0
    #: the command ran and the answer is no: a check failed, or nothing was found
    FAILED = 1
    #: unknown command or option, or a bad argument value
    USAGE = 2
    #: a file (or stdin) is missing, unreadable or not what the command expects
    INPUT = 3
    #: a service or the database refused the connection, or did not answer in time
    UNREACHABLE = 4
    #: the service or database answered with an error (a problem, missing privilege,
    #: a schema behind)
    REJECTED = 5
    #: a required setting is missing or invalid
    CONFIG = 6


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.FAILED: "the check failed, or nothing was found",
    ExitCode.USAGE: "unknown command or option, or a bad argument",
    ExitCode.INPUT: "a file (or stdin) missing, unreadable or invalid",
    ExitCode.UNREACHABLE: "a service or the database refused the connection or timed out",
    ExitCode.REJECTED: "the service or database answered with an error",
    ExitCode.CONFIG: "a required setting is missing or invalid",
}

#: One line under every command's help (``docket --help`` has the table).
EXIT_CODES_LINE = (
    "Exit status: 0 ok, 1 check failed or not found, 2 usage, 3 bad input file,"
    " 4 unreachable, 5 rejected by the service or database, 6 configuration"
    " (docket --help explains)."
)


class CliError(Exception):
    """Ends a command with one line on stderr and ``code``."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fail(code: ExitCode, message: str) -> NoReturn:
    raise CliError(code, message)


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


#: ``--database-url`` of the commands that run as the owner role (``docket keys``,
#: ``docket audit rebuild``); they fall back on ``MigrateSettings().owner_url()``.
OwnerDatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="the owner role's URL (default: $DOCKET_MIGRATION_DATABASE_URL,"
        " else $DOCKET_DATABASE_URL)",
        show_default=False,
    ),
]

#: ``--json``: the result as JSON on stdout.
JsonFlag = Annotated[bool, typer.Option("--json", help="print the result as JSON on stdout")]


def settings_problems(error: ValidationError) -> str:
    """What the environment got wrong, for a ``*Settings`` class (pydantic-settings):
    each variable and what is wrong with it, never its value (it may be a secret)."""
    problems = "; ".join(f"{_variable(e['loc'])}: {e['msg']}" for e in error.errors())
    return f"invalid configuration: {problems}"


def _variable(location: tuple[int | str, ...]) -> str:
    """The environment variable of a settings field (every one has the DOCKET_ prefix,
    or is one of the standard names such as KAFKA_BOOTSTRAP_SERVERS)."""
    name = ".".join(str(part) for part in location).upper() or "settings"
    standard = name.startswith(("DOCKET_", "KAFKA_", "OTEL_"))
    return name if standard else f"DOCKET_{name}"


def print_json(value: Any) -> None:
    """``value`` as one indented JSON document on stdout."""
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def note(text: str) -> None:
    """A message for the person at the terminal: on stderr, never mixed with data."""
    print(text, file=sys.stderr)


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date-time (UTC when it has no offset): the
    parser of every date option (``typer.Option(parser=parse_moment)``)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 date or date-time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_bytes(path: Path) -> bytes:
    """The file's bytes; ``-`` reads stdin."""
    try:
        if str(path) == STDIN:
            return sys.stdin.buffer.read()
        return path.read_bytes()
    except OSError as error:
        fail(ExitCode.INPUT, f"cannot read {path}: {error.strerror or error}")


def read_text(path: Path) -> str:
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as error:
        fail(ExitCode.INPUT, f"{path}: not UTF-8 text ({error.reason} at byte {error.start})")


def read_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        fail(ExitCode.INPUT, f"{path}: not JSON: {error}")


@contextmanager
def readable_file(path: Path) -> Iterator[Path]:
    """A path that can be opened (several times): the file itself, or stdin's content
    spooled to a temporary file when ``path`` is ``-``."""
    if str(path) != STDIN:
        if not path.is_file():
            fail(ExitCode.INPUT, f"cannot read {path}: no such file")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="docket-stdin-") as directory:
        spooled = Path(directory) / "stdin"
        spooled.write_bytes(sys.stdin.buffer.read())
        yield spooled


def run_database(
    work: Coroutine[Any, Any, T], what: str = "the database", *, privilege_hint: str = ""
) -> T:
    """Runs ``work``; a connection that fails or a server error ends the command with
    one line and its exit code instead of a traceback (``privilege_hint`` says what to
    do when the role lacks a privilege)."""
    import asyncpg  # only the commands that talk to PostgreSQL pay for it

    from shared.db import MigrationError, SchemaNotReady

    try:
        return asyncio.run(work)
    except (ConnectionError, TimeoutError, OSError) as error:
        fail(ExitCode.UNREACHABLE, f"cannot reach {what}: {_os_reason(error)}")
    except asyncpg.ClientConfigurationError as error:
        fail(ExitCode.CONFIG, f"cannot connect to {what}: {one_line(str(error))}")
    except asyncpg.InsufficientPrivilegeError as error:
        hint = f"; {privilege_hint}" if privilege_hint else ""
        fail(ExitCode.REJECTED, f"{what} refused: {one_line(str(error))}{hint}")
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        fail(ExitCode.REJECTED, f"{what} answered: {one_line(str(error))}")
    except (SchemaNotReady, MigrationError) as error:
        fail(ExitCode.REJECTED, one_line(str(error)))


def _os_reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return one_line(str(error)) or type(error).__name__
